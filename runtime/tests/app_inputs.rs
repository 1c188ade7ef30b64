//! Bad input that used to give silent garbage is now an error whose message
//! names the thing and the numbers: NaN/inf data (training, validation,
//! evaluation, prediction), learning rates set to 0, negative or NaN, IDX
//! images of other dimensions with the same byte count, and output folders
//! that do not exist (caught before the first epoch).

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::data::{mnist, Dataset};
use sxima_runtime::optim::Optimizer;
use sxima_runtime::train::*;
use sxima_runtime::{Error, Model};

type Net = Blob<16>;

fn net(seed: u64) -> Net {
    <Net as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(seed))
}

fn quick() -> FitConfig<'static> {
    FitConfig::new().epochs(2).batch_size(16).silent()
}

#[test]
fn non_finite_features_or_targets_are_refused_when_a_dataset_is_built() {
    let mut x = vec![0.5f32; 3 * 4];
    x[2 * 4 + 3] = f32::NAN;
    let e = Dataset::with_classes(x, &[4], vec![0, 1, 0]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteData {
                sample: 2,
                feature: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "features: sample 2, feature 3 is NaN (NaN and infinity are not valid data)"
    );
    let e = Dataset::with_values(
        vec![0.0; 4],
        &[2],
        2,
        vec![1.0, 2.0, f32::NEG_INFINITY, 0.0],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "targets: sample 1, feature 0 is -inf (NaN and infinity are not valid data)"
    );
}

#[test]
fn nan_slipped_in_after_construction_stops_fit_before_any_step() {
    let mut m = net(0);
    let before = params(&m);
    let mut train = blobs(64, 1);
    train.features_mut()[2 * 17 + 1] = f32::INFINITY;
    let mut opt = plain_sgd(0.1);
    // Gradient monitoring off: the case that used to train to NaN silently.
    let cfg = quick().grad_norms(false);
    let e = fit(&mut m, &mut opt, &SparseCrossEntropy, &train, cfg, &mut []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "features: sample 17, feature 1 is inf (NaN and infinity are not valid data)"
    );
    assert_eq!(params(&m), before, "no step may run on bad data");
}

#[test]
fn nan_in_validation_or_evaluation_data_is_an_error() {
    let mut m = net(0);
    let train = blobs(64, 1);
    let mut val = blobs(32, 2);
    val.map_features(|v| if v > 2.5 { f32::NAN } else { v });
    let first = val.features().iter().position(|v| v.is_nan()).unwrap();
    let mut opt = plain_sgd(0.1);
    let cfg = quick().validation_data(&val);
    let e = fit(&mut m, &mut opt, &SparseCrossEntropy, &train, cfg, &mut []).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "validation features: sample {}, feature {} is NaN (NaN and infinity are not valid data)",
            first / 2,
            first % 2
        )
    );
    let e = evaluate(&m, &SparseCrossEntropy, &val, 8).unwrap_err();
    assert!(matches!(e, Error::NonFiniteData { .. }), "{e}");
}

#[test]
fn predictor_refuses_non_finite_input() {
    let m = net(0);
    let p = Predictor::borrowing(&m);
    let e = p.predict_one(&[0.0, f32::NAN]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "predict input: sample 0, feature 1 is NaN (NaN and infinity are not valid data)"
    );
    assert!(p.classify(&[f32::INFINITY, 0.0]).is_err());
    let e = predict(&m, &[0.0, 1.0, 2.0, f32::NAN], 8).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteData {
                sample: 1,
                feature: 1,
                ..
            }
        ),
        "{e}"
    );
    // The borrowed model is still the caller's.
    let owned = Predictor::new(m.clone());
    assert_eq!(
        owned.predict_one(&[0.3, 0.1]).unwrap(),
        p.predict_one(&[0.3, 0.1]).unwrap()
    );
}

#[test]
fn probabilities_and_top_k() {
    let m = net(3);
    let p = Predictor::new(m);
    let x = [0.7, -0.2];
    let logits = p.predict_one(&x).unwrap();
    let proba = p.predict_proba(&x).unwrap();
    let z: f32 = logits.iter().map(|v| v.exp()).sum();
    for (q, l) in proba.iter().zip(&logits) {
        assert!(
            (q - l.exp() / z).abs() < 1e-6,
            "{proba:?} vs softmax({logits:?})"
        );
    }
    let top = p.top_k(&x, 5).unwrap();
    assert_eq!(top.len(), 2, "only 2 classes exist");
    assert!(top[0].1 >= top[1].1);
    assert_eq!(p.classify(&x).unwrap(), top[0]);
    // A single output is a binary classifier: [1 - sigmoid, sigmoid].
    let b = sxima_runtime::train::infer::probabilities(&[0.0]);
    assert_eq!(b, vec![0.5, 0.5]);
}

#[test]
fn labels_are_one_call_away() {
    let d = blobs(6, 0);
    assert_eq!(d.labels(), Some(&[0, 1, 0, 1, 0, 1][..]));
    assert_eq!(d.label(3), Some(1));
    assert_eq!(d.label(6), None);
    let v = Dataset::with_values(vec![0.0; 2], &[1], 1, vec![1.0, 2.0]).unwrap();
    assert_eq!(v.labels(), None);
}

#[test]
fn learning_rates_are_validated_on_every_path() {
    let mut opt = plain_sgd::<f32, Cpu>(0.1);
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        let e = Optimizer::<Net, f32, Cpu>::set_learning_rate(&mut opt, bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("invalid learning rate = {bad}: set by Optimizer::set_learning_rate: must be finite and >= 0")
        );
        assert!(!e.to_string().contains("callback"));
        assert_eq!(
            Optimizer::<Net, f32, Cpu>::learning_rate(&opt),
            0.1,
            "unchanged"
        );
    }
    // 0 is a schedule's end, so the setter takes it, but fit will not start with it.
    Optimizer::<Net, f32, Cpu>::set_learning_rate(&mut opt, 0.0).unwrap();
    let mut m = net(0);
    let before = params(&m);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &blobs(32, 1),
        quick(),
        &mut [],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid learning rate = 0: at the start of training (epoch 1) it must be finite and > 0, else fit would train nothing"
    );
    assert_eq!(params(&m), before);
}

#[test]
fn model_checkpoint_into_a_missing_folder_fails_before_epoch_1() {
    let dir = temp_dir("app-missing").join("no-such-folder");
    let mut m = net(0);
    let before = params(&m);
    let mut ck = ModelCheckpoint::new(dir.join("best.safetensors"));
    let mut log = CsvLogger::new(temp_dir("app-missing-ok").join("h.csv"));
    let mut opt = plain_sgd(0.1);
    let train = blobs(32, 1);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        quick(),
        &mut [&mut log, &mut ck],
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Io { .. }), "{msg}");
    assert!(
        msg.contains(&format!(
            "cannot save here: folder {} does not exist",
            dir.display()
        )),
        "{msg}"
    );
    assert_eq!(params(&m), before, "no epoch may run");
    let mut csv = CsvLogger::new(dir.join("h.csv"));
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        quick(),
        &mut [&mut csv],
    );
    assert!(e.is_err());
}

/// An IDX file of unsigned bytes with dimensions `dims`.
fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn idx_images_of_other_dims_with_the_same_byte_count_are_refused() {
    let dir = temp_dir("app-idx");
    let n = 8001; // more than the bundled training split
    let pixels = vec![7u8; n * 14 * 56];
    std::fs::write(
        dir.join(mnist::IMAGES_FILE),
        idx(0x803, &[n as u32, 14, 56], &pixels),
    )
    .unwrap();
    std::fs::write(
        dir.join(mnist::LABELS_FILE),
        idx(0x801, &[n as u32], &vec![3u8; n]),
    )
    .unwrap();
    let e = mnist::load(&dir).unwrap_err().to_string();
    assert!(
        e.ends_with("expected MNIST images of 28 x 28, found images of 14 x 56"),
        "{e}"
    );
    // The generic loader reads them; the model then refuses the shape.
    let d = mnist::load_files(dir.join(mnist::IMAGES_FILE), dir.join(mnist::LABELS_FILE))
        .unwrap()
        .take(16);
    assert_eq!(d.sample_shape(), [1, 14, 56]);
    let mut m = <Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(0));
    let mut opt = plain_sgd(0.1);
    let e = fit(&mut m, &mut opt, &SparseCrossEntropy, &d, quick(), &mut []).unwrap_err();
    assert!(
        e.to_string()
            .contains("dataset samples of [1, 14, 56] for model Mlp input [1, 28, 28]"),
        "{e}"
    );
    // A flat [784] dataset still feeds a [1, 28, 28] model.
    let flat = Dataset::with_classes(vec![0.5; 2 * 784], &[784], vec![1, 2]).unwrap();
    fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &flat,
        quick(),
        &mut [],
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn predict_into_fills_the_callers_buffer_and_checks_its_length() {
    let m = net(4);
    let p = Predictor::borrowing(&m);
    let xs = [[0.7f32, -0.2], [0.1, 0.4], [-1.0, 2.0]];
    let batch = predict(&m, xs.as_flattened(), 3).unwrap();
    let mut out = [0.0f32; 2];
    // Repeated calls (buffers from the device cache after the first) agree
    // with the batched path and with each other.
    for _ in 0..3 {
        for (x, want) in xs.iter().zip(&batch) {
            p.predict_into(x, &mut out).unwrap();
            assert_eq!(&out[..], &want[..]);
            assert_eq!(p.predict_one(x).unwrap(), *want);
        }
    }
    let e = p.predict_into(&xs[0], &mut [0.0; 3]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("output buffer has 3 values") && msg.contains("gives 2"),
        "{msg}"
    );
    assert!(p.predict_into(&[0.0; 3], &mut out).is_err());
    assert!(p.predict_into(&[f32::NAN, 0.0], &mut out).is_err());
}
