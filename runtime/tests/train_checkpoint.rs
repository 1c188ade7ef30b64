//! Checkpoints: round trip, and every way a file can fail to fit a model
//! (other shapes, missing or extra tensors, other dtype, truncated or garbage
//! bytes) is an `Error::CheckpointMismatch` / `Error::CorruptCheckpoint` that leaves the model untouched. Also
//! training checkpoints and bit-identical resumption.

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::error::TensorMismatch;
use sxima_runtime::train::checkpoint::{self, load, save};
use sxima_runtime::train::resume::{load_training, save_training, TrainState};
use sxima_runtime::train::*;
use sxima_runtime::{Error, Model};

fn build<const H: usize>(seed: u64) -> Blob<H> {
    <Blob<H> as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(seed))
}

/// The message of a checkpoint error (a mismatch or a corrupt file).
fn checkpoint_message(e: Error) -> String {
    match e {
        Error::CheckpointMismatch { .. } | Error::CorruptCheckpoint { .. } => e.to_string(),
        other => panic!("expected a checkpoint error, got {other}"),
    }
}

#[test]
fn round_trip_gives_identical_predictions() {
    let dir = temp_dir("ckpt-rt");
    let path = dir.join("m.safetensors");
    let a = build::<16>(1);
    save(&a, &path).unwrap();
    let mut b = build::<16>(2);
    let x = blobs(20, 0);
    assert_ne!(
        predict(&a, x.features(), 8).unwrap(),
        predict(&b, x.features(), 8).unwrap()
    );
    load(&mut b, &path).unwrap();
    assert_eq!(
        predict(&a, x.features(), 8).unwrap(),
        predict(&b, x.features(), 8).unwrap()
    );
    assert_eq!(params(&a), params(&b));
    // dfdx's own loader reads our files (same layout and names).
    let mut c = build::<16>(3);
    c.load_safetensors(&path).unwrap();
    assert_eq!(params(&a), params(&c));
    // Files in the directory: only the checkpoint (the temp file was renamed).
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["m.safetensors"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_from_another_model_names_tensor_and_shapes() {
    let dir = temp_dir("ckpt-shape");
    let path = dir.join("wide.safetensors");
    save(&build::<32>(1), &path).unwrap();
    let mut m = build::<16>(2);
    let before = params(&m);
    let msg = checkpoint_message(load(&mut m, &path).unwrap_err());
    assert!(
        msg.contains("fc1.weight: file has [32, 2], model needs [16, 2]"),
        "{msg}"
    );
    assert!(
        msg.contains("fc1.bias: file has [32], model needs [16]"),
        "{msg}"
    );
    assert!(
        msg.contains("fc2.weight: file has [2, 32], model needs [2, 16]"),
        "{msg}"
    );
    assert_eq!(
        params(&m),
        before,
        "a failed load must not change the model"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_extra_and_dtype_mismatch() {
    let dir = temp_dir("ckpt-missing");
    // A file with only fc1 (an Mlp-like different model): fc2.* missing.
    let path = dir.join("partial.safetensors");
    let m = build::<16>(1);
    save(&m.fc1, &path).unwrap();
    let e = load(&mut build::<16>(2), &path).unwrap_err();
    // Typed: every problem, with its tensor and shapes.
    let Error::CheckpointMismatch { mismatches, .. } = &e else {
        panic!("expected a checkpoint mismatch, got {e}");
    };
    assert!(mismatches.contains(&TensorMismatch::Missing {
        tensor: "fc1.weight".into(),
        model: vec![16, 2],
    }));
    assert!(mismatches.contains(&TensorMismatch::Extra {
        tensor: "weight".into(),
        file: vec![16, 2],
    }));
    let msg = checkpoint_message(e);
    // The Linear alone saves "weight"/"bias" at the root.
    assert!(
        msg.contains("fc1.weight: missing from file, model needs [16, 2]"),
        "{msg}"
    );
    assert!(msg.contains("fc2.bias: missing from file"), "{msg}");
    assert!(
        msg.contains("weight: in file ([16, 2]) but not in the model"),
        "{msg}"
    );
    // f64 weights into an f32 model.
    let path64 = dir.join("f64.safetensors");
    let m64 = <Blob<16, f64> as Model<f64, Cpu>>::build(&Cpu::seed_from_u64(0));
    save(&m64, &path64).unwrap();
    let msg = checkpoint_message(load(&mut build::<16>(2), &path64).unwrap_err());
    assert!(
        msg.contains("fc1.weight: file has dtype F64, model needs F32"),
        "{msg}"
    );
    // Missing file: an I/O error naming the path.
    let e = load(&mut build::<16>(2), dir.join("nope.safetensors")).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("nope.safetensors"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_and_corrupt_files_are_errors() {
    let dir = temp_dir("ckpt-trunc");
    let path = dir.join("m.safetensors");
    let m = build::<16>(1);
    save(&m, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut target = build::<16>(2);
    let before = params(&target);
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let p = dir.join(format!("cut{cut}.safetensors"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let msg = checkpoint_message(load(&mut target, &p).unwrap_err());
        assert!(
            msg.contains("not a valid safetensors file"),
            "cut {cut}: {msg}"
        );
    }
    // Garbage header length.
    let p = dir.join("garbage.safetensors");
    std::fs::write(&p, [0xffu8; 64]).unwrap();
    assert!(matches!(
        load(&mut target, &p),
        Err(Error::CorruptCheckpoint { .. })
    ));
    // A header that is not JSON.
    let mut bad = 10u64.to_le_bytes().to_vec();
    bad.extend_from_slice(b"not json!!");
    std::fs::write(&p, &bad).unwrap();
    assert!(matches!(
        load(&mut target, &p),
        Err(Error::CorruptCheckpoint { .. })
    ));
    assert_eq!(params(&target), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resumed_training_is_bit_identical_to_an_uninterrupted_run() {
    let dir = temp_dir("resume");
    let train = blobs(80, 3);
    let val = blobs(40, 4);
    let cfg = |epochs: usize, initial: usize| {
        FitConfig::new()
            .epochs(epochs)
            .initial_epoch(initial)
            .batch_size(8)
            .seed(5)
            .validation_data(&val)
            .silent()
    };
    // Uninterrupted: 4 epochs.
    let mut a = build::<16>(7);
    let mut opt = plain_sgd(0.05);
    let full = fit(
        &mut a,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        cfg(4, 0),
        &mut [],
    )
    .unwrap();

    // Interrupted after 2 epochs, saved, loaded into a fresh model, continued.
    let mut b = build::<16>(7);
    let mut opt = plain_sgd(0.05);
    let first = fit(
        &mut b,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        cfg(2, 0),
        &mut [],
    )
    .unwrap();
    let path = dir.join("train.safetensors");
    save_training(
        &b,
        &TrainState {
            epoch: 2,
            learning_rate: opt.config().lr,
            history: first.clone(),
            optimizer: None,
        },
        &path,
    )
    .unwrap();
    let mut c = build::<16>(99);
    let state = load_training(&mut c, &path).unwrap();
    assert_eq!(state.epoch, 2);
    assert_eq!(state.learning_rate, 0.05);
    assert_eq!(state.history, first);
    let mut opt = plain_sgd(state.learning_rate);
    let rest = fit(
        &mut c,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        cfg(4, state.epoch),
        &mut [],
    )
    .unwrap();
    assert_eq!(
        rest.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        [3, 4]
    );

    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(params(&a)), bits(params(&c)));
    let resumed: Vec<f64> = first
        .series("loss")
        .into_iter()
        .chain(rest.series("loss"))
        .collect();
    assert_eq!(full.series("loss"), resumed);
    assert_eq!(full.series("val_loss")[2..], rest.series("val_loss")[..]);
    // A plain model checkpoint is not a training checkpoint.
    let plain = dir.join("plain.safetensors");
    checkpoint::save(&a, &plain).unwrap();
    let msg = checkpoint_message(load_training(&mut c, &plain).unwrap_err());
    assert!(msg.contains("not a training checkpoint"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn running_statistics_and_scalars_round_trip() {
    // Batch norm: running mean/var are saved though not trained, and dfdx's
    // scalars (momentum, epsilon) are stored as rank-0 f64 tensors.
    use dfdx::nn::builders::BatchNorm1D;
    let dir = temp_dir("ckpt-bn");
    let dev = Cpu::seed_from_u64(0);
    let mut a = dev.build_module::<BatchNorm1D<4>, f32>();
    a.running_mean = dev.tensor([1.0, 2.0, 3.0, 4.0]);
    a.running_var = dev.tensor([0.5, 0.25, 2.0, 3.0]);
    a.momentum = 0.25;
    a.epsilon = 1e-3;
    let p = dir.join("bn.safetensors");
    save(&a, &p).unwrap();
    let mut b = dev.build_module::<BatchNorm1D<4>, f32>();
    load(&mut b, &p).unwrap();
    assert_eq!(b.running_mean.array(), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(b.running_var.array(), [0.5, 0.25, 2.0, 3.0]);
    assert_eq!((b.momentum, b.epsilon), (0.25, 1e-3));
    let _ = std::fs::remove_dir_all(&dir);
}
