//! `train_step`, the per-batch step `fit` runs (and `examples/bench.rs`
//! times): the same batches through `train_step` give bit-identical weights
//! and losses to `fit`, and a NaN gradient is an error that leaves the model alone.

#[path = "train_support/mod.rs"]
mod support;

use dfdx::prelude::*;
use support::*;
use sxima_runtime::data::Targets;
use sxima_runtime::train::*;
use sxima_runtime::Error;

type Net = Blob<16>;

fn setup(seed: u64) -> Net {
    let dev = Cpu::seed_from_u64(seed);
    <Net as sxima_runtime::Model<f32, Cpu>>::build(&dev)
}

#[test]
fn train_step_is_fits_step() {
    let train = blobs(40, 5);
    // fit: one epoch, batches of 8 in order (no shuffling).
    let mut a = setup(9);
    let mut opt_a = plain_sgd(0.1);
    let h = fit(
        &mut a,
        &mut opt_a,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(1)
            .batch_size(8)
            .shuffle(false)
            .silent(),
        &mut [],
    )
    .unwrap();

    // The same five batches through train_step.
    let mut b = setup(9);
    let mut opt_b = plain_sgd(0.1);
    let dev = Cpu::seed_from_u64(0);
    let mut grads = None;
    let mut loss_sum = 0.0;
    let mut norms_seen = 0;
    for (i, batch) in train.batches(8, None).unwrap().enumerate() {
        let out = train_step(
            &mut b,
            &mut opt_b,
            &SparseCrossEntropy,
            &dev,
            &mut grads,
            StepBatch {
                features: &batch.features,
                targets: &batch.targets,
                epoch: 1,
                batch: i + 1,
            },
            true,
            true,
        )
        .unwrap();
        assert_eq!(out.predictions.as_ref().map(|p| p.len()), Some(8 * 2));
        let norms = out.grad_norms.expect("asked for gradient norms");
        assert!(norms.iter().all(|(_, v)| v.is_finite() && *v > 0.0));
        norms_seen += 1;
        loss_sum += out.loss * batch.len() as f64;
    }
    assert_eq!(norms_seen, 5);
    assert!(grads.is_some(), "gradients are handed back for reuse");
    let bits = |m: &Net| params(m).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(h.series("loss"), vec![loss_sum / 40.0]);
}

#[test]
fn non_finite_gradient_is_an_error_and_no_update() {
    // The ReLU maps the NaN activations to 0 (finite loss), but fc1's
    // weight gradient is NaN; `grad_norms` catches it before the update.
    let mut m = setup(2);
    let before = params(&m);
    let mut opt = plain_sgd(0.1);
    let dev = Cpu::seed_from_u64(0);
    let features = vec![f32::NAN, 1.0, 0.5, -0.5];
    let targets = Targets::Classes(vec![0, 1]);
    let err = train_step(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &dev,
        &mut None,
        StepBatch {
            features: &features,
            targets: &targets,
            epoch: 3,
            batch: 7,
        },
        false,
        true,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFiniteGradient {
                epoch: 3,
                batch: 7,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        params(&m).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}
