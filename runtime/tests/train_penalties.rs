//! Training with penalties: a contractive autoencoder written by hand in the
//! shape `model!` generates (5 -> 3 sigmoid -> 5, the penalty on the code),
//! checked through a whole training step against central differences of a
//! plain-f64 re-computation of its total loss, then trained by `fit` (the
//! history logs each term), plus the NaN-term error and a model without
//! penalties keeping its history exactly as before.

mod train_support;

use dfdx::nn::modules::*;
use dfdx::prelude::*;
use sxima_runtime::data::{Dataset, Targets};
use sxima_runtime::error::{DeviceResultExt, Result};
use sxima_runtime::loss::{Loss, Mse, Target};
use sxima_runtime::penalty::{contractive_sigmoid_dense, Penalties};
use sxima_runtime::train::{evaluate_terms, fit, train_step, FitConfig, StepBatch, Verbosity};
use sxima_runtime::{layers, model::*, Backend, Elem, Error};
use sxima_testkit::assert_gradient_matches;
use train_support::{blobs, params, plain_sgd, Blob};

/// The contractive penalty's weight in the loss.
const LAMBDA: f64 = 0.7;
/// The penalty's name in the history.
const TERM: &str = "enc.contractive";

/// `enc: Dense(3), Sigmoid, dec: Dense(5)` on `[5]`, the contractive penalty
/// on `enc`'s sigmoid code; `NAN` multiplies the penalty by NaN (to test
/// the error).
#[derive(Debug, Clone)]
struct Cae<const NAN: bool, E: Dtype = f64, D: Storage<E> = Cpu> {
    enc: layers::Dense<5, 3, E, D>,
    dec: layers::Dense<3, 5, E, D>,
}

impl<const NAN: bool, E: Elem, D: Backend<E>> TensorCollection<E, D> for Cae<NAN, E, D> {
    type To<E2: Dtype, D2: Device<E2>> = Cae<NAN, E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("enc", |s| &s.enc, |s| &mut s.enc),
                Self::module("dec", |s| &s.dec, |s| &mut s.dec),
            ),
            |(enc, dec)| Cae { enc, dec },
        )
    }
}

impl<const NAN: bool, E: Elem, D: Backend<E>> ModelInfo for Cae<NAN, E, D> {
    const NAME: &'static str = "Cae";
    const INPUT_SHAPE: &'static [usize] = &[5];
    const OUTPUT_SHAPE: &'static [usize] = &[5];
    const PARAM_COUNT: usize = 5 * 3 + 3 + 3 * 5 + 5;
    const MACS: u64 = 30;
    const LAYERS: &'static [LayerSummary] = &[];
}

impl<const NAN: bool, E: Elem, D: Backend<E>> Model<E, D> for Cae<NAN, E, D> {
    type Input<B: Dim> = (B, Const<5>);
    type Output<B: Dim> = (B, Const<5>);
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
        let h = self.enc.try_forward(x).dev()?.try_sigmoid().dev()?;
        self.dec.try_forward(h).dev()
    }
    fn try_forward_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        self.try_forward_mut_penalized(x, &mut Penalties::new())
    }
    /// As `model!` emits it: the penalty runs on a fork of the code (same
    /// tensor, an empty tape) and joins the loss's tape in `fit`.
    fn try_forward_mut_penalized<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
        penalties: &mut Penalties<E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        let h = self.enc.try_forward_mut(x).dev()?.try_sigmoid().dev()?;
        let b = h.shape().0.size();
        let code = h.with_empty_tape().try_reshape_like(&(b, 3)).dev()?;
        let weight = self.enc.weight.clone().try_reshape_like(&(3, 5)).dev()?;
        let mut value = contractive_sigmoid_dense(code, weight)?;
        if NAN {
            value = value.try_mul(E::nan()).dev()?;
        }
        penalties.push(TERM, LAMBDA, value);
        self.dec.try_forward_mut(h).dev()
    }
}

/// A batch of 4 inputs in (0, 1), exact in f32 (the step reads f32 data).
fn batch_x() -> Vec<f32> {
    (0..20).map(|i| ((i * 7 + 3) % 17) as f32 / 17.0).collect()
}

/// The total loss `mse(dec(sigmoid(enc(x))), x) + LAMBDA * contractive` in
/// plain f64 arithmetic, from the parameters in visit order (`enc.weight
/// [3, 5]`, `enc.bias [3]`, `dec.weight [5, 3]`, `dec.bias [5]`), with the
/// contractive term as the squared Frobenius norm of `dh/dx` written out.
fn total_loss_plain(p: &[f64], x: &[f64]) -> f64 {
    let (w1, b1, w2, b2) = (&p[0..15], &p[15..18], &p[18..33], &p[33..38]);
    let n = x.len() / 5;
    let (mut mse, mut pen) = (0.0, 0.0);
    for s in 0..n {
        let xs = &x[s * 5..s * 5 + 5];
        let h: Vec<f64> = (0..3)
            .map(|j| {
                let a = b1[j] + (0..5).map(|i| w1[j * 5 + i] * xs[i]).sum::<f64>();
                1.0 / (1.0 + (-a).exp())
            })
            .collect();
        for k in 0..5 {
            let y = b2[k] + (0..3).map(|j| w2[k * 3 + j] * h[j]).sum::<f64>();
            mse += (y - xs[k]).powi(2);
        }
        // dh_j/dx_i = h_j (1 - h_j) W_ji
        for j in 0..3 {
            for i in 0..5 {
                pen += (h[j] * (1.0 - h[j]) * w1[j * 5 + i]).powi(2);
            }
        }
    }
    mse / (n * 5) as f64 + LAMBDA * pen / n as f64
}

/// Each parameter's gradient in visit order.
fn gradients_of<M: TensorCollection<f64, Cpu>>(m: &M, g: &Gradients<f64, Cpu>) -> Vec<f64> {
    struct G<'a>(&'a Gradients<f64, Cpu>, Vec<f64>);
    impl TensorVisitor<f64, Cpu> for G<'_> {
        type Viewer = ViewTensorRef;
        type Err = <Cpu as HasErr>::Err;
        type E2 = f64;
        type D2 = Cpu;
        fn visit<S: Shape>(
            &mut self,
            _: TensorOptions<S, f64, Cpu>,
            t: &Tensor<S, f64, Cpu>,
        ) -> std::result::Result<Option<Tensor<S, f64, Cpu>>, Self::Err> {
            self.1.extend(self.0.get(t).as_vec());
            Ok(None)
        }
    }
    let mut v = G(g, Vec::new());
    M::iter_tensors(&mut RecursiveWalker { m, f: &mut v }).unwrap();
    v.1
}

#[test]
fn contractive_gradient_through_a_training_step_matches_finite_differences() {
    let dev = Cpu::seed_from_u64(11);
    let mut model = <Cae<false> as Model<f64, Cpu>>::build(&dev);
    let x32 = batch_x();
    let x: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let p0 = params(&model);
    assert_eq!(p0.len(), 38);

    // Autodiff gradient of the total loss, assembled as `fit` does.
    let xt = dev.tensor_from_vec(x.clone(), (4usize, Const::<5>));
    let mut pens = Penalties::new();
    let y = model
        .try_forward_mut_penalized(xt.leaky_trace(), &mut pens)
        .unwrap();
    let target = dev.tensor_from_vec(x.clone(), (4usize, 5usize));
    let data = Mse
        .try_loss(y.reshape_like(&(4, 5)), &Target::Values(&target))
        .unwrap();
    let terms = pens.into_terms();
    assert_eq!(terms.len(), 1);
    assert_eq!((terms[0].name.as_str(), terms[0].weight), (TERM, LAMBDA));
    let pen_value = terms[0].value.array();
    let data_value = data.array();
    let term = terms.into_iter().next().unwrap();
    let total = data + term.value * LAMBDA;
    let total_value = total.array();
    assert!((total_value - total_loss_plain(&p0, &x)).abs() < 1e-12);
    let analytic = gradients_of(&model, &total.backward());

    // ... equals central differences of the plain re-computation.
    assert_gradient_matches(
        "contractive AE parameters",
        &p0,
        &analytic,
        1e-6,
        1e-7,
        |p| total_loss_plain(p, &x),
    );
    // The penalty is not negligible in that total.
    assert!(
        LAMBDA * pen_value > 0.01 * data_value,
        "penalty {pen_value}"
    );

    // One step of `train_step` with plain SGD moves every parameter by
    // -lr * that gradient, and reports the total and both terms.
    let lr = 0.05;
    let mut opt = plain_sgd::<f64, Cpu>(lr);
    let targets = Targets::Values {
        width: 5,
        data: x32.clone(),
    };
    let mut grads = None;
    let step = train_step(
        &mut model,
        &mut opt,
        &Mse,
        &dev,
        &mut grads,
        StepBatch {
            features: &x32,
            targets: &targets,
            epoch: 1,
            batch: 1,
        },
        false,
        false,
    )
    .unwrap();
    assert!((step.loss - total_value).abs() < 1e-12, "{step:?}");
    assert_eq!(step.terms.len(), 2);
    assert_eq!(step.terms[0].0, "mse");
    assert!((step.terms[0].1 - data_value).abs() < 1e-12);
    assert_eq!(step.terms[1].0, TERM);
    assert!((step.terms[1].1 - pen_value).abs() < 1e-12);
    let p1 = params(&model);
    for (i, ((a, b), g)) in p0.iter().zip(&p1).zip(&analytic).enumerate() {
        let want = a - lr * g;
        assert!(
            (b - want).abs() < 1e-12,
            "parameter {i}: {b} after the step, {want} = {a} - {lr} * {g}"
        );
    }
}

/// The closed form of the penalty is the Jacobian's squared Frobenius norm:
/// checked against central differences of the code with respect to the input.
#[test]
fn contractive_closed_form_is_the_jacobian_norm() {
    let dev = Cpu::seed_from_u64(5);
    let model = <Cae<false> as Model<f64, Cpu>>::build(&dev);
    let x: Vec<f64> = batch_x().iter().map(|&v| v as f64).collect();
    let code = |xs: &[f64]| -> Vec<f64> {
        let t = dev.tensor_from_vec(xs.to_vec(), (1usize, Const::<5>));
        model.enc.forward(t).sigmoid().as_vec()
    };
    let mut fd = 0.0;
    for s in 0..4 {
        let xs = x[s * 5..s * 5 + 5].to_vec();
        for i in 0..5 {
            let (mut up, mut down) = (xs.clone(), xs.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let (cu, cd) = (code(&up), code(&down));
            fd += cu
                .iter()
                .zip(&cd)
                .map(|(u, d)| ((u - d) / 2e-6).powi(2))
                .sum::<f64>();
        }
    }
    fd /= 4.0;
    let h = model
        .enc
        .forward(dev.tensor_from_vec(x, (4usize, Const::<5>)))
        .sigmoid()
        .reshape_like(&(4, 3));
    let w = model.enc.weight.clone().reshape_like(&(3, 5));
    let closed = contractive_sigmoid_dense(h, w).unwrap().array();
    assert!((closed - fd).abs() < 1e-8 * fd.max(1.0), "{closed} vs {fd}");
}

fn cae_data() -> Dataset {
    let x: Vec<f32> = (0..5 * 24)
        .map(|i| ((i * 13 + 5) % 29) as f32 / 29.0)
        .collect();
    Dataset::with_values(x.clone(), &[5], 5, x).unwrap()
}

#[test]
fn fit_logs_the_data_loss_and_each_penalty_and_trains_on_their_total() {
    let dev = Cpu::seed_from_u64(3);
    let mut model = <Cae<false> as Model<f64, Cpu>>::build(&dev);
    let mut opt = plain_sgd::<f64, Cpu>(0.5);
    let data = cae_data();
    let h = fit(
        &mut model,
        &mut opt,
        &Mse,
        &data,
        FitConfig {
            epochs: 3,
            batch_size: 8,
            verbosity: Verbosity::Silent,
            validation: sxima_runtime::train::Validation::Split(0.25),
            ..Default::default()
        },
        &mut [],
    )
    .unwrap();
    for e in &h.epochs {
        assert_eq!(
            e.terms.keys().collect::<Vec<_>>(),
            vec!["enc.contractive", "mse"]
        );
        let total = e.terms["mse"] + LAMBDA * e.terms[TERM];
        assert!((e.loss - total).abs() < 1e-12, "{e:?}");
        assert!(e.val_loss.is_some());
    }
    // The total falls; the history's writers and lookups carry the terms.
    assert!(
        h.epochs[2].loss < h.epochs[0].loss,
        "{:?}",
        h.series("loss")
    );
    assert_eq!(h.series(TERM).len(), 3);
    let cols = h.csv_columns();
    assert_eq!(&cols[..4], &["epoch", "loss", "enc.contractive", "mse"]);
    let json = h.to_json_string();
    assert!(json.contains("\"enc.contractive\""), "{json}");
    let dir = train_support::temp_dir("penalty-plot");
    h.plot(dir.join("history.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("history.svg")).unwrap();
    assert!(svg.contains("loss terms"));
}

/// `evaluate_terms` over a dataset (batches of 7: the last one short) is the
/// sample mean of the total and of each term, as the plain re-computation
/// over all samples gives it, and leaves the model as it was.
#[test]
fn evaluate_terms_gives_the_training_terms_without_changing_the_model() {
    let dev = Cpu::seed_from_u64(8);
    let model = <Cae<false> as Model<f64, Cpu>>::build(&dev);
    let data = cae_data();
    let before = params(&model);
    let e = evaluate_terms(&model, &Mse, &data, 7).unwrap();
    assert_eq!(params(&model), before);
    assert_eq!(e.samples, 24);
    let x: Vec<f64> = data.features().iter().map(|&v| v as f64).collect();
    assert!(
        (e.loss - total_loss_plain(&before, &x)).abs() < 1e-12,
        "{e:?}"
    );
    let total = e.terms["mse"] + LAMBDA * e.terms[TERM];
    assert!((e.loss - total).abs() < 1e-12, "{e:?}");
    assert!(evaluate_terms(&model, &Mse, &data, 0).is_err());
}

#[test]
fn a_non_finite_penalty_stops_fit_naming_the_term() {
    let dev = Cpu::seed_from_u64(3);
    let mut model = <Cae<true> as Model<f64, Cpu>>::build(&dev);
    let before = params(&model);
    let mut opt = plain_sgd::<f64, Cpu>(0.5);
    let err = fit(
        &mut model,
        &mut opt,
        &Mse,
        &cae_data(),
        FitConfig {
            epochs: 1,
            batch_size: 8,
            verbosity: Verbosity::Silent,
            ..Default::default()
        },
        &mut [],
    )
    .unwrap_err();
    match &err {
        Error::NonFiniteTerm {
            term, epoch, batch, ..
        } => assert_eq!((term.as_str(), *epoch, *batch), (TERM, 1, 1)),
        other => panic!("expected NonFiniteTerm, got {other}"),
    }
    assert!(err.to_string().contains(TERM), "{err}");
    assert_eq!(params(&model), before, "no update on a NaN term");
}

/// A model without penalties: no terms in the history, its CSV and JSON
/// have exactly the columns they had before penalties existed.
#[test]
fn a_model_without_penalties_logs_no_terms() {
    let dev = Cpu::seed_from_u64(1);
    let mut model = <Blob<8, f32> as Model<f32, Cpu>>::build(&dev);
    let mut opt = plain_sgd::<f32, Cpu>(0.1);
    let h = fit(
        &mut model,
        &mut opt,
        &train_support::SparseCrossEntropy,
        &blobs(32, 2),
        FitConfig {
            epochs: 2,
            batch_size: 8,
            verbosity: Verbosity::Silent,
            ..Default::default()
        },
        &mut [],
    )
    .unwrap();
    assert!(h.epochs.iter().all(|e| e.terms.is_empty()));
    assert_eq!(
        h.csv_columns()[..3],
        ["epoch".to_string(), "loss".into(), "acc".into()]
    );
    assert!(!h.to_json_string().contains("\"terms\""));
}
