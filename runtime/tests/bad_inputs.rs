//! Every bad input a user's data, files or settings can produce is an
//! `Err(sxima_runtime::Error)`, never a panic. One place to read the list:
//!
//! | input | error | test |
//! |---|---|---|
//! | checkpoint with a wrong tensor shape | `CheckpointMismatch` with a `TensorMismatch::Shape` per tensor (both shapes), model untouched | `checkpoint_with_a_wrong_shape` (more: train_checkpoint.rs `a_file_from_another_model_names_tensor_and_shapes`, `missing_extra_and_dtype_mismatch`) |
//! | truncated / garbage checkpoint file | `CorruptCheckpoint` "not a valid safetensors file", model untouched | `truncated_checkpoints` (more cuts and a non-JSON header: train_checkpoint.rs `truncated_and_corrupt_files_are_errors`) |
//! | missing checkpoint file | `Io` | `truncated_checkpoints` |
//! | training checkpoint of another optimizer / bad optimizer tensors | `CorruptCheckpoint` | resume_optimizer.rs `bad_optimizer_state_is_an_error_and_changes_nothing` |
//! | learning rate <= 0, NaN or inf in any optimizer's constructor | `InvalidConfig` | `non_positive_learning_rates` |
//! | learning rate < 0, NaN or inf set by a callback (schedule) during `fit` (0 is allowed: cosine annealing ends there) | `InvalidConfig` | `a_callback_setting_a_bad_learning_rate` |
//! | other bad optimizer settings (betas, momentum, ...) | `InvalidConfig` | runtime/src/optim/tests.rs |
//! | batch size 0 (`fit`, `evaluate`, `predict`, `Dataset::batches`) | `InvalidConfig` | `batch_size_zero` |
//! | class label out of range for sparse cross-entropy (training or validation data, `evaluate`) | `LabelOutOfRange` | `labels_out_of_range` |
//! | empty training / validation dataset, empty `evaluate` | `DataFormat` | `empty_datasets` |
//! | samples or targets that do not fit the model | `Shape` | train_fit.rs `configuration_errors_are_values` |
//! | inconsistent dataset (feature count, target width) | `DataFormat` | `inconsistent_datasets` |
//! | `epochs` 0 or <= `initial_epoch`, validation split outside (0, 1) | `InvalidConfig` | train_fit.rs `configuration_errors_are_values` |
//! | NaN/inf loss or gradient during training | `NonFiniteLoss` / `NonFiniteGradient` | train_fit.rs `non_finite_loss_stops_with_epoch_and_batch` |
//! | NaN/inf penalty term (or objective term) during training | `NonFiniteTerm` naming the term, no update | train_penalties.rs `a_non_finite_penalty_stops_fit_naming_the_term` |
//! | metrics or an objective with no term in `fit_outputs` | `InvalidConfig` | train_outputs.rs `fit_outputs_rejects_metrics_and_an_empty_objective` |

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::data::Dataset;
use sxima_runtime::error::TensorMismatch;
use sxima_runtime::optim::{
    Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Nadam,
    NadamConfig, OptimizerConfig, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use sxima_runtime::train::checkpoint::{load, save};
use sxima_runtime::train::resume::{load_training, save_training, TrainState};
use sxima_runtime::train::*;
use sxima_runtime::{Error, Model};

fn build<const H: usize>(seed: u64) -> Blob<H> {
    <Blob<H> as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(seed))
}

fn mismatches(e: Error) -> Vec<TensorMismatch> {
    match e {
        Error::CheckpointMismatch { mismatches, .. } => mismatches,
        other => panic!("expected a checkpoint mismatch, got {other}"),
    }
}

fn corrupt_reason(e: Error) -> String {
    match e {
        Error::CorruptCheckpoint { reason, .. } => reason,
        other => panic!("expected a corrupt checkpoint, got {other}"),
    }
}

fn shape(tensor: &str, file: &[usize], model: &[usize]) -> TensorMismatch {
    TensorMismatch::Shape {
        tensor: tensor.into(),
        file: file.to_vec(),
        model: model.to_vec(),
    }
}

#[test]
fn checkpoint_with_a_wrong_shape() {
    let dir = temp_dir("bad-shape");
    let path = dir.join("h8.safetensors");
    save(&build::<8>(1), &path).unwrap();
    let mut m = build::<16>(2);
    let before = params(&m);
    let found = mismatches(load(&mut m, &path).unwrap_err());
    assert!(
        found.contains(&shape("fc1.weight", &[8, 2], &[16, 2])),
        "{found:?}"
    );
    assert!(
        found.contains(&shape("fc2.weight", &[2, 8], &[2, 16])),
        "{found:?}"
    );
    assert_eq!(params(&m), before);
    // The same through a training checkpoint.
    let state = TrainState {
        epoch: 1,
        learning_rate: 0.1,
        history: History::default(),
        optimizer: None,
    };
    save_training(&build::<8>(1), &state, &path).unwrap();
    let found = mismatches(load_training(&mut m, &path).unwrap_err());
    assert!(
        found.iter().any(|t| t.tensor() == "fc1.weight"),
        "{found:?}"
    );
    assert_eq!(params(&m), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_checkpoints() {
    let dir = temp_dir("bad-trunc");
    let path = dir.join("m.safetensors");
    let state = TrainState {
        epoch: 1,
        learning_rate: 0.1,
        history: History::default(),
        optimizer: None,
    };
    save_training(&build::<16>(1), &state, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut m = build::<16>(2);
    let before = params(&m);
    for cut in [0, 7, bytes.len() / 3, bytes.len() - 1] {
        let p = dir.join(format!("cut{cut}.safetensors"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let msg = corrupt_reason(load(&mut m, &p).unwrap_err());
        assert!(msg.contains("not a valid safetensors file"), "{cut}: {msg}");
        let msg = corrupt_reason(load_training(&mut m, &p).unwrap_err());
        assert!(msg.contains("not a valid safetensors file"), "{cut}: {msg}");
    }
    assert_eq!(params(&m), before);
    let missing = dir.join("does-not-exist.safetensors");
    assert!(matches!(load(&mut m, &missing), Err(Error::Io { .. })));
    assert!(matches!(
        load_training(&mut m, &missing),
        Err(Error::Io { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_positive_learning_rates() {
    for lr in [0.0, -0.01, -1.0, f64::NAN, f64::INFINITY] {
        let configs = [
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            }),
            OptimizerConfig::Adagrad(AdagradConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::Adadelta(AdadeltaConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::AdamW(AdamWConfig {
                lr,
                ..Default::default()
            }),
            OptimizerConfig::Nadam(NadamConfig {
                lr,
                ..Default::default()
            }),
        ];
        for c in configs {
            let e = c
                .build::<f32, Cpu>()
                .err()
                .unwrap_or_else(|| panic!("lr {lr} accepted: {c:?}"));
            assert!(
                matches!(&e, Error::InvalidConfig { setting, .. } if setting == "learning rate"),
                "{e}"
            );
        }
        // Each constructor directly, too.
        assert!(Sgd::<f32, Cpu>::new(SgdConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(Adagrad::<f32, Cpu>::new(AdagradConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(Adadelta::<f32, Cpu>::new(AdadeltaConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(RmsProp::<f32, Cpu>::new(RmsPropConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(Adam::<f32, Cpu>::new(AdamConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(AdamW::<f32, Cpu>::new(AdamWConfig {
            lr,
            ..Default::default()
        })
        .is_err());
        assert!(Nadam::<f32, Cpu>::new(NadamConfig {
            lr,
            ..Default::default()
        })
        .is_err());
    }
    // The smallest positive rate is fine.
    assert!(OptimizerConfig::Adam(AdamConfig {
        lr: 1e-12,
        ..Default::default()
    })
    .build::<f32, Cpu>()
    .is_ok());
}

/// Sets the learning rate to a fixed value at the start of epoch 2.
struct SetLr(f64);

impl<M: TensorCollection<f32, Cpu>> Callback<f32, Cpu, M> for SetLr {
    fn on_epoch_begin(
        &mut self,
        epoch: usize,
        _: Option<&EpochLogs>,
        c: &mut Control,
    ) -> sxima_runtime::Result<()> {
        if epoch == 2 {
            c.lr = self.0;
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, _: &M, _: &EpochLogs, _: &mut Control) -> sxima_runtime::Result<()> {
        Ok(())
    }
}

#[test]
fn a_callback_setting_a_bad_learning_rate() {
    let train = blobs(20, 1);
    for lr in [-0.5, f64::NAN, f64::INFINITY] {
        let mut m = build::<16>(1);
        let mut opt = plain_sgd(0.1);
        let mut cb = SetLr(lr);
        let e = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            FitConfig::new().epochs(3).silent(),
            &mut [&mut cb],
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidConfig { setting, reason, .. } if setting == "learning rate" && reason.contains("epoch 2")),
            "{lr}: {e}"
        );
    }
    // Good values, 0 included (a schedule may anneal to 0), are taken.
    for lr in [0.05, 0.0] {
        let mut m = build::<16>(1);
        let mut opt = plain_sgd(0.1);
        let mut cb = SetLr(lr);
        let h = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            FitConfig::new().epochs(2).silent(),
            &mut [&mut cb],
        )
        .unwrap();
        assert_eq!(h.series("lr"), [0.1, lr]);
    }
}

#[test]
fn batch_size_zero() {
    let train = blobs(10, 0);
    let mut m = build::<16>(0);
    let mut opt = plain_sgd(0.1);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new().batch_size(0).silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidConfig { setting, .. } if setting == "batch size"),
        "{e}"
    );
    assert!(matches!(
        evaluate(&m, &SparseCrossEntropy, &train, 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        predict(&m, train.features(), 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        predict_dataset(&m, &train, 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(train.batches(0, None).is_err());
}

#[test]
fn labels_out_of_range() {
    let good = blobs(10, 0);
    let bad = Dataset::with_classes(vec![0.5; 6], &[2], vec![1, 0, 2]).unwrap();
    let mut m = build::<16>(0);
    let mut opt = plain_sgd(0.1);
    let expected = |e: &Error| {
        matches!(
            e,
            Error::LabelOutOfRange {
                index: 2,
                label: 2,
                classes: 2
            }
        )
    };
    // In the training data.
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &bad,
        FitConfig::new().silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(expected(&e), "{e}");
    // In the validation data (checked before the first step).
    let before = params(&m);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &good,
        FitConfig::new().validation_data(&bad).silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(expected(&e), "{e}");
    assert_eq!(params(&m), before, "nothing trained before the error");
    // In evaluation.
    let e = evaluate(&m, &SparseCrossEntropy, &bad, 8).unwrap_err();
    assert!(expected(&e), "{e}");
}

#[test]
fn empty_datasets() {
    let good = blobs(10, 0);
    let empty = good.take(0);
    assert!(empty.is_empty());
    let mut m = build::<16>(0);
    let mut opt = plain_sgd(0.1);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &empty,
        FitConfig::new().silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::DataFormat { found, .. } if found.contains("empty")),
        "{e}"
    );
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &good,
        FitConfig::new().validation_data(&empty).silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::DataFormat { found, .. } if found.contains("empty")),
        "{e}"
    );
    let e = evaluate(&m, &SparseCrossEntropy, &empty, 8).unwrap_err();
    assert!(matches!(&e, Error::DataFormat { .. }), "{e}");
    // Built from nothing at all.
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &Dataset::with_classes(Vec::new(), &[2], Vec::new()).unwrap(),
        FitConfig::new().silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(&e, Error::DataFormat { .. }), "{e}");
}

#[test]
fn inconsistent_datasets() {
    // 5 feature values for 2 samples of 2.
    assert!(matches!(
        Dataset::with_classes(vec![0.0; 5], &[2], vec![0, 1]),
        Err(Error::DataFormat { .. })
    ));
    // 5 target values of width 2.
    assert!(matches!(
        Dataset::with_values(vec![0.0; 4], &[2], 2, vec![0.0; 5]),
        Err(Error::DataFormat { .. })
    ));
    // Width 0, and a zero dimension in the sample shape.
    assert!(matches!(
        Dataset::with_values(vec![], &[2], 0, vec![]),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        Dataset::with_classes(vec![], &[0], vec![0]),
        Err(Error::DataFormat { .. })
    ));
}
