//! MNIST: the bundled 10,000-digit subset (`data/mnist10k-*.gz`, first 8,000
//! training, last 2,000 test) and the full MNIST files, as [`Dataset`]s of
//! `[1, 28, 28]` images with pixels scaled to `[0, 1]` and class labels.

use std::path::{Path, PathBuf};

use crate::data::dataset::Dataset;
use crate::data::idx;
use crate::error::{Error, Result};

/// File name of the bundled images.
pub const IMAGES_FILE: &str = "mnist10k-images-idx3-ubyte.gz";
/// File name of the bundled labels.
pub const LABELS_FILE: &str = "mnist10k-labels-idx1-ubyte.gz";
/// Number of training samples in the bundled subset (the rest is the test set).
pub const TRAIN_SAMPLES: usize = 8_000;

/// A train/test pair.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

/// Loads an images file and a labels file into one dataset
/// (`[1, rows, cols]` samples, pixels / 255, class labels).
/// Errors when the counts differ or a label is above 9.
pub fn load_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let im = idx::read_images(images)?;
    let lb = idx::read_labels(labels)?;
    let (n, rows, cols) = (im.dims[0], im.dims[1], im.dims[2]);
    if lb.dims[0] != n {
        return Err(Error::data(
            labels.display(),
            format!("{n} labels, one per image in {}", images.display()),
            format!("{} labels", lb.dims[0]),
        ));
    }
    if let Some((i, &l)) = lb.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(Error::data(
            labels.display(),
            "digit labels 0..=9",
            format!("label {l} at index {i}"),
        ));
    }
    let features = im.data.iter().map(|&p| p as f32 / 255.0).collect();
    let labels = lb.data.iter().map(|&l| l as usize).collect();
    Dataset::with_classes(features, &[1, rows, cols], labels)
}

/// Loads the bundled subset from `dir` and splits it 8,000 / 2,000.
pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    let all = load_files(dir.join(IMAGES_FILE), dir.join(LABELS_FILE))?;
    if all.len() <= TRAIN_SAMPLES {
        return Err(Error::data(
            dir.display(),
            format!("more than {TRAIN_SAMPLES} samples for the bundled split"),
            format!("{} samples", all.len()),
        ));
    }
    let (train, test) = all.split(TRAIN_SAMPLES)?;
    Ok(Mnist { train, test })
}

/// Loads the full MNIST files (`train-images-idx3-ubyte[.gz]`, ...) from `dir`.
pub fn load_full(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    let pick = |stem: &str| {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.exists() {
            gz
        } else {
            dir.join(stem)
        }
    };
    Ok(Mnist {
        train: load_files(
            pick("train-images-idx3-ubyte"),
            pick("train-labels-idx1-ubyte"),
        )?,
        test: load_files(
            pick("t10k-images-idx3-ubyte"),
            pick("t10k-labels-idx1-ubyte"),
        )?,
    })
}

/// Where the bundled files are: `$SXIMA_DATA` if set, else the repository's
/// `data/` folder (known at compile time; for examples and tests in the repo).
pub fn default_dir() -> PathBuf {
    match std::env::var_os("SXIMA_DATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
    }
}
