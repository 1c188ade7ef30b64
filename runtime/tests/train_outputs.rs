//! `fit_outputs`: a two-output autoencoder written by hand in the shape the
//! `model!` macro generates for declared outputs (`code` and `recon`), with
//! an objective of two terms (reconstruction MSE summed over features and
//! the code's L1 activity) plus a penalty the model itself collects. One
//! step is checked against central differences of a plain-f64
//! re-computation of the objective, then `fit_outputs` trains and logs
//! each term.

mod train_support;

use dfdx::nn::modules::*;
use dfdx::prelude::*;
use sxima_runtime::data::{Dataset, Targets};
use sxima_runtime::error::{DeviceResultExt, Result};
use sxima_runtime::loss::{Loss, Mse, Target};
use sxima_runtime::outputs::MultiOutput;
use sxima_runtime::penalty::{activity_l1, Penalties};
use sxima_runtime::train::{
    fit_outputs, train_outputs_step, FitConfig, Objective, StepBatch, Validation, Verbosity,
};
use sxima_runtime::{layers, model::*, Backend, Elem, Error};
use sxima_testkit::numeric_gradient;
use train_support::{params, plain_sgd};

/// Weight of the objective's L1 term.
const L1: f64 = 0.3;
/// Weight of the model's own penalty (mean square of the code).
const SQ: f64 = 0.2;

/// `enc: Dense(2)` on `[3]` gives `code`; `dec: Dense(3)` gives `recon`.
#[derive(Debug, Clone)]
struct TwoOut<E: Dtype = f64, D: Storage<E> = Cpu> {
    enc: layers::Dense<3, 2, E, D>,
    dec: layers::Dense<2, 3, E, D>,
}

/// The generated outputs struct.
struct Outs<B: Dim, E: Dtype, D: Storage<E>, T> {
    code: Tensor<(B, Const<2>), E, D, T>,
    recon: Tensor<(B, Const<3>), E, D, T>,
}

impl<E: Elem, D: Backend<E>> TensorCollection<E, D> for TwoOut<E, D> {
    type To<E2: Dtype, D2: Device<E2>> = TwoOut<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("enc", |s| &s.enc, |s| &mut s.enc),
                Self::module("dec", |s| &s.dec, |s| &mut s.dec),
            ),
            |(enc, dec)| TwoOut { enc, dec },
        )
    }
}

impl<E: Elem, D: Backend<E>> ModelInfo for TwoOut<E, D> {
    const NAME: &'static str = "TwoOut";
    const INPUT_SHAPE: &'static [usize] = &[3];
    const OUTPUT_SHAPE: &'static [usize] = &[3];
    const PARAM_COUNT: usize = 6 + 2 + 6 + 3;
    const MACS: u64 = 12;
    const LAYERS: &'static [LayerSummary] = &[];
}

impl<E: Elem, D: Backend<E>> Model<E, D> for TwoOut<E, D> {
    type Input<B: Dim> = (B, Const<3>);
    type Output<B: Dim> = (B, Const<3>);
    fn input_shape<B: Dim>(batch: B) -> Self::Input<B> {
        (batch, Const)
    }
    fn output_shape<B: Dim>(batch: B) -> Self::Output<B> {
        (batch, Const)
    }
    fn try_forward<B: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        Ok(self.try_forward_outputs(x)?.recon)
    }
    fn try_forward_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        Ok(self
            .try_forward_outputs_mut(x, &mut Penalties::new())?
            .recon)
    }
}

impl<E: Elem, D: Backend<E>> MultiOutput<E, D> for TwoOut<E, D> {
    type Outputs<B: Dim, T: Tape<E, D>> = Outs<B, E, D, T>;
    fn try_forward_outputs<B: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Self::Outputs<B, T>> {
        let code = self.enc.try_forward(x).dev()?;
        let fork = code.with_empty_tape();
        let recon = self.dec.try_forward(code).dev()?;
        Ok(Outs { code: fork, recon })
    }
    /// The code output is a fork (same tensor, an empty tape), as `model!`
    /// emits it; the model's penalty, mean square of the code, another.
    fn try_forward_outputs_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
        penalties: &mut Penalties<E, D, T>,
    ) -> Result<Self::Outputs<B, T>> {
        let code = self.enc.try_forward_mut(x).dev()?;
        let sq = code
            .with_empty_tape()
            .try_square()
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()?;
        penalties.push("code.sq", SQ, sq);
        let fork = code.with_empty_tape();
        let recon = self.dec.try_forward_mut(code).dev()?;
        Ok(Outs { code: fork, recon })
    }
}

/// `mse_sum(recon, target) + L1 * l1(code)`; `empty` pushes nothing.
struct AeObjective {
    empty: bool,
}

impl<E: Elem, D: Backend<E>> Objective<E, D, TwoOut<E, D>> for AeObjective {
    fn name(&self) -> String {
        "ae".into()
    }
    fn terms<T: Tape<E, D>>(
        &self,
        out: Outs<usize, E, D, T>,
        target: &Target<'_, E, D>,
        terms: &mut Penalties<E, D, T>,
    ) -> Result<()> {
        if self.empty {
            return Ok(());
        }
        let b = out.recon.shape().0;
        let recon = out.recon.try_reshape_like(&(b, 3)).dev()?;
        terms.push("mse_sum", 1.0, Mse.summed().try_loss(recon, target)?);
        let code = out.code.try_reshape_like(&(b, 2)).dev()?;
        terms.push("code.l1", L1, activity_l1(code)?);
        Ok(())
    }
}

/// The total objective in plain f64 from the parameters in visit order
/// (`enc.weight [2, 3]`, `enc.bias [2]`, `dec.weight [3, 2]`, `dec.bias [3]`).
fn total_plain(p: &[f64], x: &[f64]) -> f64 {
    let (w1, b1, w2, b2) = (&p[0..6], &p[6..8], &p[8..14], &p[14..17]);
    let n = x.len() / 3;
    let (mut se, mut l1, mut sq) = (0.0, 0.0, 0.0);
    for s in 0..n {
        let xs = &x[s * 3..s * 3 + 3];
        let c: Vec<f64> = (0..2)
            .map(|j| b1[j] + (0..3).map(|i| w1[j * 3 + i] * xs[i]).sum::<f64>())
            .collect();
        for k in 0..3 {
            let y = b2[k] + (0..2).map(|j| w2[k * 2 + j] * c[j]).sum::<f64>();
            se += (y - xs[k]).powi(2);
        }
        l1 += c.iter().map(|v| v.abs()).sum::<f64>();
        sq += c.iter().map(|v| v * v).sum::<f64>();
    }
    se / n as f64 + L1 * l1 / n as f64 + SQ * sq / (2 * n) as f64
}

fn data() -> Dataset {
    let x: Vec<f32> = (0..3 * 20)
        .map(|i| ((i * 11 + 2) % 23) as f32 / 23.0 - 0.4)
        .collect();
    Dataset::with_values(x.clone(), &[3], 3, x).unwrap()
}

#[test]
fn one_step_descends_the_objective_plus_penalties_by_its_gradient() {
    let dev = Cpu::seed_from_u64(21);
    let mut model = <TwoOut as Model<f64, Cpu>>::build(&dev);
    let d = data();
    let x32 = d.features()[..12].to_vec();
    let x: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let p0 = params(&model);
    let lr = 0.01;
    let mut opt = plain_sgd::<f64, Cpu>(lr);
    let targets = Targets::Values {
        width: 3,
        data: x32.clone(),
    };
    let step = train_outputs_step(
        &mut model,
        &mut opt,
        &AeObjective { empty: false },
        &dev,
        &mut None,
        StepBatch {
            features: &x32,
            targets: &targets,
            epoch: 1,
            batch: 1,
        },
        true,
    )
    .unwrap();
    assert!((step.loss - total_plain(&p0, &x)).abs() < 1e-12, "{step:?}");
    let names: Vec<&str> = step.terms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["mse_sum", "code.l1", "code.sq"]);
    let total: f64 = step.terms[0].1 + L1 * step.terms[1].1 + SQ * step.terms[2].1;
    assert!((step.loss - total).abs() < 1e-12);
    assert_eq!(step.grad_norms.as_ref().map(|g| g.len()), Some(4));
    // The update is -lr * the gradient of the plain objective.
    let numeric = numeric_gradient(&p0, 1e-6, |p| total_plain(p, &x));
    let p1 = params(&model);
    for i in 0..p0.len() {
        let moved = (p0[i] - p1[i]) / lr;
        assert!(
            (moved - numeric[i]).abs() < 1e-6 * numeric[i].abs().max(1.0),
            "parameter {i}: stepped by gradient {moved}, finite difference {}",
            numeric[i]
        );
    }
}

#[test]
fn fit_outputs_trains_and_logs_each_term() {
    let dev = Cpu::seed_from_u64(4);
    let mut model = <TwoOut as Model<f64, Cpu>>::build(&dev);
    let mut opt = plain_sgd::<f64, Cpu>(0.05);
    let h = fit_outputs(
        &mut model,
        &mut opt,
        &AeObjective { empty: false },
        &data(),
        FitConfig {
            epochs: 4,
            batch_size: 5,
            verbosity: Verbosity::Silent,
            validation: Validation::Split(0.25),
            ..Default::default()
        },
        &mut [],
    )
    .unwrap();
    assert_eq!(h.loss_name, "ae");
    assert_eq!(h.term_names(), ["code.l1", "code.sq", "mse_sum"]);
    for e in &h.epochs {
        let total = e.terms["mse_sum"] + L1 * e.terms["code.l1"] + SQ * e.terms["code.sq"];
        assert!((e.loss - total).abs() < 1e-12, "{e:?}");
        // Validation: the objective's terms on the inference forward (no
        // model penalty), finite.
        assert!(e.val_loss.is_some_and(f64::is_finite), "{e:?}");
    }
    let loss = h.series("loss");
    assert!(loss[3] < loss[0], "{loss:?}");
}

#[test]
fn fit_outputs_rejects_metrics_and_an_empty_objective() {
    let dev = Cpu::seed_from_u64(4);
    let mut model = <TwoOut as Model<f64, Cpu>>::build(&dev);
    let mut opt = plain_sgd::<f64, Cpu>(0.05);
    let cfg = || FitConfig {
        epochs: 1,
        batch_size: 5,
        verbosity: Verbosity::Silent,
        ..Default::default()
    };
    let with_metric = FitConfig {
        metrics: vec![Box::new(sxima_runtime::train::Mae)],
        ..cfg()
    };
    let e = fit_outputs(
        &mut model,
        &mut opt,
        &AeObjective { empty: false },
        &data(),
        with_metric,
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
    let e = fit_outputs(
        &mut model,
        &mut opt,
        &AeObjective { empty: true },
        &data(),
        cfg(),
        &mut [],
    )
    .unwrap_err();
    assert!(e.to_string().contains("objective"), "{e}");
}
