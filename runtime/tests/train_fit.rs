//! `fit`, `evaluate`, `predict` and callbacks on small synthetic problems and
//! on a slice of the bundled MNIST digits.

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::data::{mnist, Dataset};
use sxima_runtime::train::*;
use sxima_runtime::Error;

type Net = Blob<16>;

fn setup(seed: u64) -> (Cpu, Net) {
    let dev = Cpu::seed_from_u64(seed);
    let m = <Net as sxima_runtime::Model<f32, Cpu>>::build(&dev);
    (dev, m)
}

#[test]
fn fit_separates_two_blobs() {
    let (_dev, mut m) = setup(0);
    let mut opt = plain_sgd(0.1);
    let train = blobs(400, 1);
    let test = blobs(200, 2);
    let before = evaluate(&m, &SparseCrossEntropy, &test, 64).unwrap();
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(10)
            .batch_size(16)
            .validation_data(&test)
            .silent(),
        &mut [],
    )
    .unwrap();
    assert_eq!(h.epochs.len(), 10);
    assert_eq!(h.loss_name, "sparse_cross_entropy");
    let last = h.last().unwrap();
    assert!(
        last.loss < h.epochs[0].loss,
        "loss did not fall: {:?}",
        h.series("loss")
    );
    assert!(
        last.metrics["acc"] > 0.95,
        "train acc {}",
        last.metrics["acc"]
    );
    assert!(
        last.val_metrics["acc"] > 0.95,
        "val acc {}",
        last.val_metrics["acc"]
    );
    let after = evaluate(&m, &SparseCrossEntropy, &test, 64).unwrap();
    assert!(after.loss < before.loss);
    // evaluate agrees with the last epoch's validation numbers (same model).
    assert!((after.loss - last.val_loss.unwrap()).abs() < 1e-6);
    assert_eq!(after.accuracy(), Some(last.val_metrics["acc"]));
    assert_eq!(after.samples, 200);
    // lr, time and per-parameter gradient norms are recorded.
    assert_eq!(last.lr, 0.1);
    assert!(last.elapsed_s > 0.0);
    let keys: Vec<&String> = last.grad_norms.keys().collect();
    assert_eq!(keys, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
    assert!(last.grad_norms.values().all(|v| v.is_finite() && *v > 0.0));
}

#[test]
fn batch_size_one_and_full_batch_both_train() {
    let train = blobs(64, 3);
    for (bs, lr, epochs) in [(1usize, 0.02, 3usize), (64, 0.5, 40), (1000, 0.5, 40)] {
        let (_dev, mut m) = setup(1);
        let mut opt = plain_sgd(lr);
        let h = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            FitConfig::new().epochs(epochs).batch_size(bs).silent(),
            &mut [],
        )
        .unwrap();
        let l = h.series("loss");
        assert!(l.last().unwrap() < &(l[0] * 0.5), "batch {bs}: {l:?}");
        assert!(h.last().unwrap().metrics["acc"] > 0.9, "batch {bs}");
    }
}

#[test]
fn regression_with_values_reports_mae_not_accuracy() {
    // y = [x0 + x1, x0 - x1]: learnable by the net (ReLU hidden layer).
    let src = blobs(128, 4);
    let f = src.features().to_vec();
    let y: Vec<f32> = f
        .chunks(2)
        .flat_map(|p| [p[0] + p[1], p[0] - p[1]])
        .collect();
    let data = Dataset::with_values(f, &[2], 2, y).unwrap();
    let (_dev, mut m) = setup(2);
    let mut opt = plain_sgd(0.05);
    let h = fit(
        &mut m,
        &mut opt,
        &Mse,
        &data,
        FitConfig::new()
            .epochs(30)
            .batch_size(16)
            .metric(Mae)
            .validation_split(0.25)
            .silent(),
        &mut [],
    )
    .unwrap();
    let last = h.last().unwrap();
    assert!(!last.metrics.contains_key("acc"));
    assert!(last.metrics["mae"] < 0.3, "mae {}", last.metrics["mae"]);
    assert!(last.val_metrics["mae"] < 0.4);
    assert!(last.val_loss.is_some());
}

#[test]
fn configuration_errors_are_values() {
    let (_dev, mut m) = setup(0);
    let mut opt = plain_sgd(0.1);
    let train = blobs(10, 0);
    let mut run = |cfg: FitConfig<'_>, data: &Dataset| {
        fit(&mut m, &mut opt, &SparseCrossEntropy, data, cfg, &mut [])
    };
    let e = run(FitConfig::new().epochs(0).silent(), &train).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref setting, .. } if setting == "epochs"),
        "{e}"
    );
    let e = run(FitConfig::new().batch_size(0).silent(), &train).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref setting, ref value, .. } if setting == "batch size" && value == "0"),
        "{e}"
    );
    let e = run(FitConfig::new().epochs(2).initial_epoch(2).silent(), &train).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref reason, .. } if reason.contains("initial_epoch (2)")),
        "{e}"
    );
    let empty = train.take(0);
    assert!(matches!(
        run(FitConfig::new().silent(), &empty),
        Err(Error::DataFormat { .. })
    ));
    let e = run(FitConfig::new().validation_split(1.5).silent(), &train).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref setting, ref value, .. } if setting == "validation split" && value == "1.5"),
        "{e}"
    );
    // Samples of 3 values for a model taking 2.
    let wrong = Dataset::with_classes(vec![0.0; 6], &[3], vec![0, 1]).unwrap();
    let e = run(FitConfig::new().silent(), &wrong).unwrap_err();
    match &e {
        Error::Shape {
            expected,
            got,
            what,
        } => {
            assert_eq!(
                (expected.as_slice(), got.as_slice()),
                (&[2usize][..], &[3usize][..])
            );
            assert!(what.contains("Blob"), "{what}");
        }
        other => panic!("expected a shape error, got {other}"),
    }
    // Targets of width 3 for a model with 2 outputs.
    let wrong = Dataset::with_values(vec![0.0; 4], &[2], 3, vec![0.0; 6]).unwrap();
    assert!(matches!(
        run(FitConfig::new().silent(), &wrong),
        Err(Error::Shape { .. })
    ));
    // Label 5 with 2 outputs.
    let wrong = Dataset::with_classes(vec![0.0; 4], &[2], vec![1, 5]).unwrap();
    assert!(matches!(
        run(FitConfig::new().silent(), &wrong),
        Err(Error::LabelOutOfRange {
            index: 1,
            label: 5,
            classes: 2
        })
    ));
}

#[test]
fn non_finite_loss_stops_with_epoch_and_batch() {
    // A NaN feature in sample 37 (which used to reach training, where a ReLU
    // hid it from the loss) is refused before any step, naming the sample
    // and feature; train_step's own NaN-gradient check is tested in
    // train_step.rs.
    let mut data = blobs(60, 5);
    data.features_mut()[37 * 2] = f32::NAN;
    let (_dev, mut m) = setup(0);
    let mut opt = plain_sgd(0.1);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &data,
        FitConfig::new()
            .epochs(3)
            .batch_size(10)
            .shuffle(false)
            .silent(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteData {
                sample: 37,
                feature: 0,
                ..
            }
        ),
        "{e}"
    );
    // A NaN target in sample 37: refused when the dataset is built.
    let src = blobs(60, 5);
    let mut y = src.features().to_vec();
    y[37 * 2 + 1] = f32::NAN;
    let e = Dataset::with_values(src.features().to_vec(), &[2], 2, y).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteData {
                sample: 37,
                feature: 1,
                ..
            }
        ),
        "{e}"
    );
    // A huge learning rate on regression diverges to inf/NaN (gradient checks
    // off, so the loss is what reports it).
    let src = blobs(64, 6);
    let y: Vec<f32> = src.features().iter().map(|v| v * 100.0).collect();
    let data = Dataset::with_values(src.features().to_vec(), &[2], 2, y).unwrap();
    let (_dev, mut m) = setup(0);
    let mut opt = plain_sgd(1e6);
    let e = fit(
        &mut m,
        &mut opt,
        &Mse,
        &data,
        FitConfig::new()
            .epochs(50)
            .batch_size(8)
            .grad_norms(false)
            .silent(),
        &mut [],
    )
    .unwrap_err();
    match e {
        Error::NonFiniteLoss {
            epoch,
            batch,
            value,
        } => {
            assert!(!value.is_finite());
            assert!(
                epoch >= 1 && (1..=8).contains(&batch),
                "epoch {epoch} batch {batch}"
            );
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
}

#[test]
fn same_seed_gives_bit_identical_runs() {
    let train = blobs(100, 7);
    let run = |dev_seed: u64, shuffle_seed: u64| {
        let (_dev, mut m) = setup(dev_seed);
        let mut opt = plain_sgd(0.1);
        let h = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            FitConfig::new()
                .epochs(3)
                .batch_size(8)
                .seed(shuffle_seed)
                .silent(),
            &mut [],
        )
        .unwrap();
        (h.series("loss"), params(&m))
    };
    let (l1, p1) = run(3, 11);
    let (l2, p2) = run(3, 11);
    assert_eq!(l1, l2);
    assert_eq!(
        p1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        p2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let (l3, _) = run(3, 12);
    assert_ne!(l1, l3, "a different shuffle seed should change the losses");
}

#[test]
fn predict_and_predict_one_check_lengths() {
    let (_dev, m) = setup(0);
    let data = blobs(5, 0);
    let all = predict(&m, data.features(), 2).unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|r| r.len() == 2));
    let one = predict_one(&m, data.sample(3).unwrap()).unwrap();
    assert_eq!(one, all[3]);
    assert_eq!(predict_dataset(&m, &data, 3).unwrap(), all);
    let e = predict_one(&m, &[1.0, 2.0, 3.0]).unwrap_err().to_string();
    assert!(
        e.contains("input has 3 values, model Blob expects 2 = [2]"),
        "{e}"
    );
    assert!(predict(&m, &[1.0, 2.0, 3.0], 4).is_err());
    assert!(predict(&m, &[1.0, 2.0], 0).is_err());
    let p = Predictor::new(m.clone());
    let (class, prob) = p.classify(data.sample(3).unwrap()).unwrap();
    assert!(one.iter().all(|x| *x <= one[class]));
    assert_eq!(
        prob,
        sxima_runtime::train::infer::probabilities(&one)[class]
    );
}

#[test]
fn mlp_learns_mnist_digits() {
    let mn = mnist::load(mnist::default_dir()).unwrap();
    let train = mn.train.take(2000);
    let test = mn.test.take(500);
    let dev = Cpu::seed_from_u64(0);
    let mut m = <Mlp as sxima_runtime::Model<f32, Cpu>>::build(&dev);
    let mut opt = plain_sgd(0.1);
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(3)
            .batch_size(32)
            .metric(TopKAccuracy(3))
            .silent(),
        &mut [],
    )
    .unwrap();
    let last = h.last().unwrap();
    assert!(last.metrics["top3_acc"] >= last.metrics["acc"]);
    let e = evaluate(&m, &SparseCrossEntropy, &test, 100).unwrap();
    assert!(
        e.accuracy().unwrap() > 0.8,
        "test accuracy {:?}",
        e.accuracy()
    );
    let e = predict_one(&m, &vec![0.0; 783]).unwrap_err().to_string();
    assert!(
        e.contains("input has 783 values, model Mlp expects 784 = [1, 28, 28]"),
        "{e}"
    );
}

// ---- callbacks ----

#[test]
fn early_stopping_stops_and_restores_best_weights() {
    let train = blobs(64, 8);
    let (_dev, mut m) = setup(4);
    let mut opt = plain_sgd(0.1);
    // Learning rate 0 after epoch 3: the loss cannot improve any more.
    let mut sched =
        LrScheduler::new(|epoch: usize, _: Option<&EpochLogs>| if epoch < 3 { 0.1 } else { 0.0 });
    let mut es = EarlyStopping::new("loss", 2).restore_best_weights(true);
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(20)
            .batch_size(64)
            .shuffle(false)
            .silent(),
        &mut [&mut sched, &mut es],
    )
    .unwrap();
    assert_eq!(h.series("lr"), vec![0.1, 0.1, 0.1, 0.0, 0.0, 0.0]);
    // Epochs 4 and 5 repeat epoch 4's loss: 2 epochs without improvement after epoch 4.
    assert_eq!(h.epochs.len(), 6, "{:?}", h.series("loss"));
    assert_eq!(h.stopped_at, Some(6));
    assert_eq!(es.stopped_epoch(), Some(6));
    assert_eq!(es.best().unwrap().1, 4);
    assert!(h.epochs[3].loss < h.epochs[2].loss);
}

#[test]
fn early_stopping_restores_the_best_model() {
    // Train well for 5 epochs, then a destructive learning rate makes the
    // validation loss worse; the restored model must be the epoch-5 model.
    let train = blobs(64, 9);
    let val = blobs(64, 10);
    let (_dev, mut m) = setup(5);
    let mut opt = plain_sgd(0.1);
    let mut sched =
        LrScheduler::new(|epoch: usize, _: Option<&EpochLogs>| if epoch < 5 { 0.1 } else { 30.0 });
    let mut es = EarlyStopping::new("val_loss", 1).restore_best_weights(true);
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(10)
            .batch_size(16)
            .validation_data(&val)
            .silent(),
        &mut [&mut sched, &mut es],
    )
    .unwrap();
    let (best, best_epoch) = es.best().unwrap();
    assert!(h.stopped_at.is_some());
    let now = evaluate(&m, &SparseCrossEntropy, &val, 64).unwrap();
    assert!(
        (now.loss - best).abs() < 1e-6,
        "restored loss {} vs best {best} at epoch {best_epoch}",
        now.loss
    );
    assert!(h.last().unwrap().val_loss.unwrap() > best);
}

#[test]
fn model_checkpoint_keeps_the_best_and_loggers_write_files() {
    let dir = temp_dir("ckpt-cb");
    let train = blobs(64, 11);
    let val = blobs(32, 12);
    let (_dev, mut m) = setup(6);
    let mut opt = plain_sgd(0.1);
    let mut best = ModelCheckpoint::new(dir.join("best.safetensors")).best_only("val_acc");
    let mut every = ModelCheckpoint::new(dir.join("e{epoch}.safetensors"));
    let mut csv = CsvLogger::new(dir.join("h.csv"));
    let mut json = JsonLogger::new(dir.join("h.json"));
    let h = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(4)
            .batch_size(16)
            .validation_data(&val)
            .silent(),
        &mut [&mut best, &mut every, &mut csv, &mut json],
    )
    .unwrap();
    // Best-only saves exactly at the epochs where val_acc reached a new maximum.
    let mut running = f64::NEG_INFINITY;
    let expect: Vec<usize> = h
        .epochs
        .iter()
        .filter(|e| {
            let v = e.val_metrics["acc"];
            let better = v > running;
            running = running.max(v);
            better
        })
        .map(|e| e.epoch)
        .collect();
    let got: Vec<usize> = best.saved().iter().map(|(e, _)| *e).collect();
    assert_eq!(got, expect);
    for e in 1..=4 {
        assert!(dir.join(format!("e{e}.safetensors")).exists());
    }
    // The last per-epoch checkpoint holds the final weights.
    let mut fresh = setup(99).1;
    checkpoint::load(&mut fresh, dir.join("e4.safetensors")).unwrap();
    assert_eq!(params(&fresh), params(&m));
    // Loggers wrote the whole history.
    let csv_text = std::fs::read_to_string(dir.join("h.csv")).unwrap();
    assert_eq!(csv_text, h.to_csv_string());
    assert_eq!(History::from_json(dir.join("h.json")).unwrap(), h);
    // No temporary files are left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn monitoring_a_missing_value_is_a_config_error() {
    let (_dev, mut m) = setup(0);
    let mut opt = plain_sgd(0.1);
    let mut es = EarlyStopping::new("val_loss", 1);
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &blobs(16, 0),
        FitConfig::new().epochs(2).silent(),
        &mut [&mut es],
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref value, ref reason, .. } if value == "val_loss" && reason.contains("available: loss, acc")),
        "{e}"
    );
}

#[test]
fn epoch_line_format() {
    let logs = EpochLogs {
        epoch: 3,
        loss: 0.12345,
        terms: Default::default(),
        metrics: [("acc".to_string(), 0.961)].into(),
        val_loss: Some(0.2),
        val_metrics: [("acc".to_string(), 0.95)].into(),
        lr: 0.1,
        elapsed_s: 12.34,
        grad_norms: Default::default(),
    };
    let line = progress::epoch_line(&logs, 10, &[&Accuracy]);
    assert_eq!(
        line,
        "epoch 3/10  loss 0.1235  acc 96.1%  val_loss 0.2000  val_acc 95.0%  12.3s"
    );
    // A loss made of named terms shows each (unweighted) after the total.
    let logs = EpochLogs {
        terms: [("mse".to_string(), 0.1), ("code.kl".to_string(), 0.5)].into(),
        ..logs
    };
    let line = progress::epoch_line(&logs, 10, &[]);
    assert_eq!(
        line,
        "epoch 3/10  loss 0.1235 (code.kl 0.5000, mse 0.1000)  val_loss 0.2000  12.3s"
    );
}

#[test]
fn verbosity_does_not_change_results() {
    let train = blobs(40, 13);
    let run = |v: Verbosity| {
        let (_dev, mut m) = setup(8);
        let mut opt = plain_sgd(0.1);
        let h = fit(
            &mut m,
            &mut opt,
            &SparseCrossEntropy,
            &train,
            FitConfig::new().epochs(2).batch_size(8).verbosity(v),
            &mut [],
        )
        .unwrap();
        (h.series("loss"), params(&m))
    };
    let silent = run(Verbosity::Silent);
    assert_eq!(run(Verbosity::Lines), silent);
    assert_eq!(run(Verbosity::Bar), silent);
}
