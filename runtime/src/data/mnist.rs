//! MNIST: the bundled 10,000-digit subset (`data/mnist10k-*.gz`, first 8,000
//! training, last 2,000 test) and the full MNIST files, as [`Dataset`]s of
//! `[1, 28, 28]` images with pixels scaled to `[0, 1]` and class labels.
//!
//! Where the files are: pass a folder to [`load`], or call [`load_default`],
//! which looks in `$SXIMA_DATA` (the documented place for an application:
//! `SXIMA_DATA=/path/to/folder`) and then in this repository's `data/`
//! folder (which exists only when building inside the sxima repository, for
//! its examples and tests); when neither has the files the error names both.

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

/// MNIST's image size; [`load`] and [`load_full`] reject files whose
/// header says otherwise (`[14, 56]` has the same byte count but is not a
/// digit).
pub const IMAGE_DIMS: [usize; 2] = [28, 28];

fn check_dims(d: &Dataset, images: &Path) -> Result<()> {
    let want = [1, IMAGE_DIMS[0], IMAGE_DIMS[1]];
    if d.sample_shape() != want {
        return Err(Error::data(
            images.display(),
            format!("MNIST images of {} x {}", IMAGE_DIMS[0], IMAGE_DIMS[1]),
            format!(
                "images of {} x {}",
                d.sample_shape()[1],
                d.sample_shape()[2]
            ),
        ));
    }
    Ok(())
}

/// Loads the bundled subset from `dir` and splits it 8,000 / 2,000.
/// Errors when the images are not 28 x 28.
pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    let all = load_files(dir.join(IMAGES_FILE), dir.join(LABELS_FILE))?;
    check_dims(&all, &dir.join(IMAGES_FILE))?;
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
    let train = load_files(
        pick("train-images-idx3-ubyte"),
        pick("train-labels-idx1-ubyte"),
    )?;
    check_dims(&train, &pick("train-images-idx3-ubyte"))?;
    let test = load_files(
        pick("t10k-images-idx3-ubyte"),
        pick("t10k-labels-idx1-ubyte"),
    )?;
    check_dims(&test, &pick("t10k-images-idx3-ubyte"))?;
    Ok(Mnist { train, test })
}

/// The environment variable naming the folder with the data files.
pub const DATA_ENV: &str = "SXIMA_DATA";

/// The repository's `data/` folder (known at compile time): right for the
/// examples and tests inside the sxima repository, absent for a crate
/// depending on a published sxima.
pub fn repository_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// The folder holding the bundled files: `explicit` if given, else
/// `$SXIMA_DATA`, else [`repository_dir`]. Errors with
/// [`Error::DataNotFound`] naming every place tried when none holds both
/// files.
pub fn find_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    search(
        explicit,
        std::env::var_os(DATA_ENV).map(PathBuf::from),
        &repository_dir(),
    )
}

/// [`find_dir`] with the environment's value and the fallback folder given.
fn search(explicit: Option<&Path>, env: Option<PathBuf>, fallback: &Path) -> Result<PathBuf> {
    let has = |d: &Path| d.join(IMAGES_FILE).is_file() && d.join(LABELS_FILE).is_file();
    let mut tried = Vec::new();
    if let Some(d) = explicit {
        if has(d) {
            return Ok(d.to_path_buf());
        }
        tried.push(format!("the explicit path {}", d.display()));
    }
    match env {
        Some(d) if has(&d) => return Ok(d),
        Some(d) => tried.push(format!("${DATA_ENV} = {}", d.display())),
        None => tried.push(format!("${DATA_ENV} (not set)")),
    }
    if has(fallback) {
        return Ok(fallback.to_path_buf());
    }
    tried.push(format!("the sxima repository's {}", fallback.display()));
    Err(Error::DataNotFound {
        files: format!("MNIST files {IMAGES_FILE} and {LABELS_FILE}"),
        tried: format!(
            "{} (pass a folder to mnist::load, or set {DATA_ENV} to one)",
            tried.join(", ")
        ),
    })
}

/// [`load`] from [`find_dir`]`(None)`: `$SXIMA_DATA`, then the repository.
pub fn load_default() -> Result<Mnist> {
    load(find_dir(None)?)
}

/// Where the bundled files are expected without looking: `$SXIMA_DATA` if
/// set, else [`repository_dir`]. Prefer [`find_dir`] / [`load_default`],
/// whose error says where they looked.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("SXIMA_DATA") {
        Some(d) => PathBuf::from(d),
        None => repository_dir(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_data_names_every_place_tried() {
        let nowhere = Path::new("/nonexistent/sxima-a");
        let e = search(Some(nowhere), Some("/nonexistent/sxima-b".into()), nowhere)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "MNIST files {IMAGES_FILE} and {LABELS_FILE} not found"
            )),
            "{e}"
        );
        assert!(e.contains("the explicit path /nonexistent/sxima-a"), "{e}");
        assert!(e.contains("$SXIMA_DATA = /nonexistent/sxima-b"), "{e}");
        let e = search(None, None, nowhere).unwrap_err().to_string();
        assert!(e.contains("$SXIMA_DATA (not set)"), "{e}");
    }

    #[test]
    fn explicit_then_env_then_fallback() {
        let repo = repository_dir();
        let other = Path::new("/nonexistent/sxima-c");
        assert_eq!(search(Some(&repo), None, other).unwrap(), repo);
        assert_eq!(
            search(Some(other), Some(repo.clone()), other).unwrap(),
            repo
        );
        assert_eq!(search(None, Some(other.into()), &repo).unwrap(), repo);
    }
}
