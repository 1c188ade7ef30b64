//! IDX reading (gzip and plain), its errors on corrupt and truncated files,
//! the bundled MNIST subset, and Dataset splits and batching.

use std::io::Write;

use sxima_runtime::data::idx::{self, IdxArray};
use sxima_runtime::data::{mnist, permutation, Dataset, Standardizer, Targets};
use sxima_runtime::Error;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sxima-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `(expected, found)` of a data-format error.
fn data_err(e: Error) -> (String, String) {
    match e {
        Error::DataFormat {
            expected, found, ..
        } => (expected, found),
        other => panic!("expected a data-format error, got {other}"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn bundled_mnist_loads_and_splits() {
    let m = mnist::load(mnist::default_dir()).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (8000, 2000));
    assert_eq!(m.train.sample_shape(), &[1, 28, 28]);
    let f = m.train.features();
    assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(f.contains(&1.0) && f.contains(&0.0));
    // Ink covers roughly 10-25% of an average digit.
    let ink = f.iter().filter(|v| **v > 0.5).count() as f64 / f.len() as f64;
    assert!((0.05..0.3).contains(&ink), "ink fraction {ink}");
    let Targets::Classes(labels) = m.train.targets() else {
        panic!()
    };
    let mut counts = [0usize; 10];
    labels.iter().for_each(|&l| counts[l] += 1);
    assert!(
        counts.iter().all(|&c| (600..1000).contains(&c)),
        "{counts:?}"
    );
    assert_eq!(m.train.num_classes(), Some(10));
    // The plain (un-gzipped) file reads the same.
    let dir = temp_dir("idx-plain");
    let raw = idx::read_bytes(&mnist::default_dir().join(mnist::LABELS_FILE)).unwrap();
    std::fs::write(dir.join("labels"), &raw).unwrap();
    let plain = idx::read_labels(dir.join("labels")).unwrap();
    assert_eq!(plain.dims, [10000]);
    assert_eq!(
        &plain.data[..8000]
            .iter()
            .map(|&l| l as usize)
            .collect::<Vec<_>>(),
        labels
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_and_corrupt_files_give_data_errors() {
    let dir = temp_dir("idx-bad");
    let img = IdxArray {
        dims: vec![3, 4, 5],
        data: (0..60).collect(),
    };
    let bytes = idx::to_bytes(&img).unwrap();
    assert_eq!(bytes.len(), 16 + 60);
    let p = dir.join("img");
    // Truncated plain file: expected and actual byte counts.
    std::fs::write(&p, &bytes[..50]).unwrap();
    let (want, got) = data_err(idx::read_images(&p).unwrap_err());
    assert!(want.starts_with("76 bytes"), "{want}");
    assert_eq!(got, "50 bytes (truncated)");
    // Truncated gzip stream.
    let gz = gzip(&bytes);
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let (want, _) = data_err(idx::read_images(&p).unwrap_err());
    assert!(want.contains("gzip"), "{want}");
    // Complete gzip of a truncated IDX.
    std::fs::write(&p, gzip(&bytes[..70])).unwrap();
    let (want, got) = data_err(idx::read_images(&p).unwrap_err());
    assert!(want.starts_with("76 bytes"), "{want}");
    assert_eq!(got, "70 bytes (truncated)");
    // Trailing bytes.
    let mut long = bytes.clone();
    long.push(0);
    std::fs::write(&p, &long).unwrap();
    let (_, got) = data_err(idx::read_images(&p).unwrap_err());
    assert_eq!(got, "77 bytes (has trailing bytes)");
    // Labels file read as images: wrong magic.
    let lab = idx::to_bytes(&IdxArray {
        dims: vec![3],
        data: vec![1, 2, 3],
    })
    .unwrap();
    std::fs::write(&p, &lab).unwrap();
    let (want, got) = data_err(idx::read_images(&p).unwrap_err());
    assert_eq!(want, "magic number 0x00000803");
    assert_eq!(got, "magic number 0x00000801");
    // Header too short, empty file, non-IDX magic, missing file.
    std::fs::write(&p, [0u8, 0, 8, 3, 0, 0]).unwrap();
    let (want, got) = data_err(idx::read(&p).unwrap_err());
    assert_eq!(want, "a header of 16 bytes for 3 dimensions");
    assert_eq!(got, "6 bytes (truncated header)");
    std::fs::write(&p, []).unwrap();
    assert_eq!(
        data_err(idx::read(&p).unwrap_err()).1,
        "0 bytes (too short)"
    );
    std::fs::write(&p, b"PK\x03\x04 not idx").unwrap();
    let (_, got) = data_err(idx::read(&p).unwrap_err());
    assert!(got.contains("not an IDX magic"), "{got}");
    assert!(matches!(
        idx::read(dir.join("missing")),
        Err(Error::Io { .. })
    ));
    // A corrupted copy of the real gzip file.
    let real = std::fs::read(mnist::default_dir().join(mnist::IMAGES_FILE)).unwrap();
    std::fs::write(&p, &real[..real.len() - 1000]).unwrap();
    let (want, _) = data_err(idx::read_images(&p).unwrap_err());
    assert!(want.contains("gzip"), "{want}");
    // Image and label counts that differ.
    std::fs::write(dir.join("i"), &bytes).unwrap();
    std::fs::write(
        dir.join("l"),
        idx::to_bytes(&IdxArray {
            dims: vec![2],
            data: vec![1, 2],
        })
        .unwrap(),
    )
    .unwrap();
    let (want, got) = data_err(mnist::load_files(dir.join("i"), dir.join("l")).unwrap_err());
    assert!(want.starts_with("3 labels, one per image"), "{want}");
    assert_eq!(got, "2 labels");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn splits_take_and_validation_split() {
    let d = Dataset::with_classes((0..20).map(|v| v as f32).collect(), &[2], (0..10).collect())
        .unwrap();
    let (a, b) = d.split(7).unwrap();
    assert_eq!((a.len(), b.len()), (7, 3));
    assert_eq!(b.sample(0).unwrap(), &[14.0, 15.0]);
    assert!(d.split(11).is_err());
    assert_eq!(d.take(3).targets(), &Targets::Classes(vec![0, 1, 2]));
    assert_eq!(d.take(50).len(), 10);
    let (t, v) = d.validation_split(0.2).unwrap();
    assert_eq!((t.len(), v.len()), (8, 2));
    assert_eq!(v.targets(), &Targets::Classes(vec![8, 9]));
    assert!(d.validation_split(0.0).is_err());
    assert!(d.validation_split(0.99).is_err(), "0 training samples");
    assert!(d.subset(&[3, 10]).is_err());
}

#[test]
fn batches_cover_every_sample_once_and_keep_the_last_partial() {
    let d = Dataset::with_classes((0..10).map(|v| v as f32).collect(), &[1], (0..10).collect())
        .unwrap();
    let sizes: Vec<usize> = d.batches(4, None).unwrap().map(|b| b.len()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(d.batches(1, None).unwrap().count(), 10);
    assert_eq!(d.batches(100, None).unwrap().count(), 1);
    assert!(d.batches(0, None).is_err());
    let mut seen: Vec<usize> = d
        .batches(3, Some((7, 0)))
        .unwrap()
        .flat_map(|b| b.indices)
        .collect();
    let order = seen.clone();
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_ne!(order, (0..10).collect::<Vec<_>>(), "shuffled");
    // Features and targets travel together.
    for b in d.batches(3, Some((7, 0))).unwrap() {
        let Targets::Classes(l) = &b.targets else {
            panic!()
        };
        assert_eq!(b.features, l.iter().map(|&v| v as f32).collect::<Vec<_>>());
    }
    // Order depends only on (seed, epoch).
    assert_eq!(permutation(10, 7, 0), order);
    assert_eq!(permutation(10, 7, 3), permutation(10, 7, 3));
    assert_ne!(permutation(10, 7, 3), permutation(10, 7, 4));
    assert_ne!(permutation(10, 8, 3), permutation(10, 7, 3));
}

#[test]
fn standardizer_fits_train_and_applies_to_test() {
    let m = mnist::load(mnist::default_dir()).unwrap();
    let mut train = m.train.take(500);
    let mut test = m.test.take(100);
    let s = Standardizer::fit(&train).unwrap();
    s.apply(&mut train).unwrap();
    s.apply(&mut test).unwrap();
    let mean: f64 =
        train.features().iter().map(|&v| v as f64).sum::<f64>() / train.features().len() as f64;
    assert!(mean.abs() < 1e-4, "{mean}");
    assert!(test.features().iter().all(|v| v.is_finite()));
    let other = Dataset::with_classes(vec![0.0; 3], &[3], vec![0]).unwrap();
    assert!(s.apply(&mut other.clone()).is_err());
}
