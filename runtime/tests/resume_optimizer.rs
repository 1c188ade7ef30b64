//! Resuming training with the optimizer's state: a run stopped after epoch 2,
//! saved with `save_training`, restored into a freshly built model and
//! optimizer with `restore_training` and continued to epoch 5 ends with
//! bit-identical weights, losses and optimizer state to an uninterrupted
//! 5-epoch run, for every optimizer of the lecture (CPU, f32). Without the
//! optimizer state the same resumption diverges for Adam (so the comparison
//! can fail), and bad optimizer state is an error, not a panic.

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::data::Dataset;
use sxima_runtime::optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, AnyOptimizer, NadamConfig, OptimizerConfig,
    RmsPropConfig, SgdConfig,
};
use sxima_runtime::train::resume::{
    load_training, optimizer_tensor_prefix, restore_training, save_training, TrainState,
};
use sxima_runtime::train::*;
use sxima_runtime::{Error, Model};

type Net = Blob<16>;

fn build(seed: u64) -> Net {
    <Net as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(seed))
}

fn cfg(val: &Dataset, epochs: usize, initial: usize) -> FitConfig<'_> {
    FitConfig::new()
        .epochs(epochs)
        .initial_epoch(initial)
        .batch_size(8)
        .seed(5)
        .validation_data(val)
        .silent()
}

fn bits(v: Vec<f32>) -> Vec<u32> {
    v.into_iter().map(f32::to_bits).collect()
}

fn optimizers() -> Vec<(&'static str, OptimizerConfig)> {
    let sgd = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..Default::default()
    };
    vec![
        (
            "adam",
            OptimizerConfig::Adam(AdamConfig {
                lr: 0.01,
                ..Default::default()
            }),
        ),
        ("sgd+momentum", OptimizerConfig::Sgd(sgd)),
        (
            "nesterov",
            OptimizerConfig::Sgd(SgdConfig {
                nesterov: true,
                ..sgd
            }),
        ),
        (
            "nadam",
            OptimizerConfig::Nadam(NadamConfig {
                lr: 0.01,
                ..Default::default()
            }),
        ),
        (
            "rmsprop",
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr: 0.01,
                momentum: 0.5,
                ..Default::default()
            }),
        ),
        (
            "adagrad",
            OptimizerConfig::Adagrad(AdagradConfig {
                lr: 0.05,
                ..Default::default()
            }),
        ),
        (
            "adadelta",
            OptimizerConfig::Adadelta(AdadeltaConfig::default()),
        ),
    ]
}

/// Trains 5 epochs straight; returns model, optimizer and history.
fn uninterrupted(
    c: &OptimizerConfig,
    train: &Dataset,
    val: &Dataset,
) -> (Net, AnyOptimizer, History) {
    let mut m = build(7);
    let mut opt = c.build::<f32, Cpu>().unwrap();
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        train,
        cfg(val, 5, 0),
        &mut [],
    )
    .unwrap();
    (m, opt, h)
}

#[test]
fn resumed_runs_are_bit_identical_for_every_optimizer() {
    let dir = temp_dir("resume-opt");
    let train = blobs(80, 3);
    let val = blobs(40, 4);
    for (name, c) in optimizers() {
        let (full_model, full_opt, full) = uninterrupted(&c, &train, &val);

        // Stopped after epoch 2 and saved.
        let mut m = build(7);
        let mut opt = c.build::<f32, Cpu>().unwrap();
        let first = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            cfg(&val, 2, 0),
            &mut [],
        )
        .unwrap();
        let path = dir.join(format!("{name}.safetensors"));
        save_training(
            &m,
            &TrainState::with_optimizer(2, opt.state(), first.clone()),
            &path,
        )
        .unwrap();
        drop((m, opt));

        // Restored into a differently initialised model and a fresh optimizer.
        let mut m = build(99);
        let mut opt = c.build::<f32, Cpu>().unwrap();
        let state = restore_training(&mut m, &mut opt, &path).unwrap();
        assert_eq!(state.epoch, 2, "{name}");
        assert_eq!(state.history, first, "{name}");
        let rest = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            cfg(&val, 5, state.epoch),
            &mut [],
        )
        .unwrap();
        assert_eq!(rest.series("epoch"), [3.0, 4.0, 5.0], "{name}");

        assert_eq!(
            bits(params(&m)),
            bits(params(&full_model)),
            "{name}: weights"
        );
        let resumed: Vec<f64> = first
            .series("loss")
            .into_iter()
            .chain(rest.series("loss"))
            .collect();
        assert_eq!(full.series("loss"), resumed, "{name}: training losses");
        assert_eq!(
            full.series("val_loss")[2..],
            rest.series("val_loss")[..],
            "{name}"
        );
        assert_eq!(opt.state(), full_opt.state(), "{name}: optimizer state");
        // The run really trained (the comparison is not between two no-ops).
        assert!(
            full.series("loss")[4] < full.series("loss")[0],
            "{name}: {:?}",
            full.series("loss")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn adam_resumed_without_its_state_diverges() {
    let dir = temp_dir("resume-nostate");
    let train = blobs(80, 3);
    let val = blobs(40, 4);
    let c = optimizers()[0].1;
    let (full_model, _, _) = uninterrupted(&c, &train, &val);
    let mut m = build(7);
    let mut opt = c.build::<f32, Cpu>().unwrap();
    let first = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        cfg(&val, 2, 0),
        &mut [],
    )
    .unwrap();
    let path = dir.join("weights-only.safetensors");
    let state = TrainState {
        epoch: 2,
        learning_rate: 0.01,
        history: first,
        optimizer: None,
    };
    save_training(&m, &state, &path).unwrap();
    let mut m = build(99);
    let mut opt = c.build::<f32, Cpu>().unwrap();
    let loaded = restore_training(&mut m, &mut opt, &path).unwrap();
    assert_eq!(loaded.optimizer, None);
    fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        cfg(&val, 5, 2),
        &mut [],
    )
    .unwrap();
    assert_ne!(bits(params(&m)), bits(params(&full_model)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_optimizer_state_is_an_error_and_changes_nothing() {
    let dir = temp_dir("resume-bad");
    let train = blobs(40, 3);
    let mut m = build(7);
    let mut adam = OptimizerConfig::Adam(AdamConfig::default())
        .build::<f32, Cpu>()
        .unwrap();
    let h = fit(
        &mut m,
        &mut adam,
        &SparseCrossEntropy,
        &train,
        FitConfig::new().silent(),
        &mut [],
    )
    .unwrap();
    let path = dir.join("adam.safetensors");
    let state = TrainState::with_optimizer(1, adam.state(), h.clone());
    save_training(&m, &state, &path).unwrap();
    // The moments are in the file as tensors; load_training returns them.
    let mut other = build(1);
    let loaded = load_training(&mut other, &path).unwrap();
    assert_eq!(loaded.optimizer.as_ref(), Some(&adam.state()));
    assert_eq!(loaded.optimizer.unwrap().tensors.len(), 4 * 2); // 4 tensors x (exp_avg, exp_avg_sq)

    // Another kind of optimizer: a checkpoint error; model and optimizer untouched.
    let mut target = build(2);
    let before = params(&target);
    let mut sgd = OptimizerConfig::Sgd(SgdConfig {
        momentum: 0.9,
        ..Default::default()
    })
    .build::<f32, Cpu>()
    .unwrap();
    let e = restore_training(&mut target, &mut sgd, &path).unwrap_err();
    assert!(
        matches!(&e, Error::CorruptCheckpoint { reason, .. } if reason.contains("adam")),
        "{e}"
    );
    assert_eq!(params(&target), before);
    assert_eq!(sgd.state().steps.len(), 0);

    // A moment vector of the wrong length: accepted by load_state (it does
    // not know the model yet), rejected with a shape error at the first step.
    let mut short = adam.state();
    short.tensors.get_mut("fc1.weight/exp_avg").unwrap().pop();
    save_training(&m, &TrainState::with_optimizer(1, short, h.clone()), &path).unwrap();
    let mut fresh = OptimizerConfig::Adam(AdamConfig::default())
        .build::<f32, Cpu>()
        .unwrap();
    restore_training(&mut target, &mut fresh, &path).unwrap();
    let e = fit(
        &mut target,
        &mut fresh,
        &SparseCrossEntropy,
        &train,
        FitConfig::new().epochs(2).initial_epoch(1).silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Shape { what, .. } if what.contains("fc1.weight")),
        "{e}"
    );
    let before = params(&target);

    // Optimizer tensors of the wrong dtype, and tensors without the metadata.
    let raw = |name: String,
               dtype: ::safetensors::tensor::Dtype,
               data: Vec<u8>,
               meta: Option<std::collections::HashMap<String, String>>| {
        let n = data.len() / dtype.size();
        let view = ::safetensors::tensor::TensorView::new(dtype, vec![n], &data).unwrap();
        ::safetensors::serialize(vec![(name, view)], &meta).unwrap()
    };
    let mut meta = std::collections::HashMap::new();
    meta.insert("sxima.epoch".to_string(), "1".to_string());
    meta.insert("sxima.learning_rate".to_string(), "0.001".to_string());
    meta.insert("sxima.history".to_string(), h.to_json_string());
    let key = format!("{}fc1.weight/exp_avg", optimizer_tensor_prefix());
    let p = dir.join("raw.safetensors");
    std::fs::write(
        &p,
        raw(
            key.clone(),
            ::safetensors::tensor::Dtype::F32,
            vec![0; 8],
            Some(meta.clone()),
        ),
    )
    .unwrap();
    let e = load_training(&mut target, &p).unwrap_err();
    assert!(
        matches!(&e, Error::CorruptCheckpoint { reason, .. } if reason.contains("without")),
        "{e}"
    );
    meta.insert(
        "sxima.optimizer".to_string(),
        r#"{"optimizer":"adam","lr":0.001,"steps":{},"tensors":{},"scalars":{}}"#.to_string(),
    );
    std::fs::write(
        &p,
        raw(
            key,
            ::safetensors::tensor::Dtype::F32,
            vec![0; 8],
            Some(meta),
        ),
    )
    .unwrap();
    let e = load_training(&mut target, &p).unwrap_err();
    assert!(
        matches!(&e, Error::CorruptCheckpoint { reason, .. } if reason.contains("F64")),
        "{e}"
    );
    assert_eq!(params(&target), before);
    let _ = std::fs::remove_dir_all(&dir);
}
