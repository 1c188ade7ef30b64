//! Inference without a tape: [`evaluate`] (loss and metrics over a dataset),
//! [`predict`] / [`predict_dataset`] (raw outputs), and the application entry
//! points [`predict_one`] and [`Predictor`], which check input lengths
//! against the model's `INPUT_SHAPE` and reject NaN/infinite inputs
//! ([`Error::NonFiniteData`] naming sample and feature) instead of panicking
//! or answering garbage. [`Predictor`] adds class probabilities
//! ([`Predictor::predict_proba`]) and the `k` most likely classes
//! ([`Predictor::top_k`]).

use std::borrow::Borrow;
use std::collections::BTreeMap;

use dfdx::tensor::Cache;
use dfdx::tensor_ops::{Device, ReshapeTo};

use crate::backend::Backend;
use crate::data::dataset::check_finite;
use crate::data::{Dataset, Targets};
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::loss::Loss;
use crate::model::{shape_len, Model};
use crate::train::forward::{input_tensor, model_device, scalar, target_loss, to_elem, to_f32};
use crate::train::metrics::{Accuracy, Metric};

/// Loss and metrics of a model over a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean loss over all samples.
    pub loss: f64,
    /// Metric values by name (`"acc"`).
    pub metrics: BTreeMap<String, f64>,
    /// Number of samples evaluated.
    pub samples: usize,
}

impl Evaluation {
    /// Accuracy, when it was computed.
    pub fn accuracy(&self) -> Option<f64> {
        self.metrics.get("acc").copied()
    }
}

fn fmt_shape(s: &[usize]) -> String {
    let d: Vec<String> = s.iter().map(|v| v.to_string()).collect();
    format!("[{}]", d.join(", "))
}

/// Runs the inference forward on `b` samples of flat features, returning the
/// outputs on the host (`b * output_len` values).
pub(crate) fn forward_batch<E: Elem, D: Device<E>, M: Model<E, D>>(
    model: &M,
    dev: &D,
    features: &[f32],
    b: usize,
) -> Result<Vec<f32>> {
    let x = input_tensor::<E, D, M>(dev, features, b)?;
    let y = model.try_forward(x)?;
    Ok(y.as_vec().into_iter().map(to_f32).collect())
}

/// The metrics `fit`/`evaluate` use when none are given: accuracy for
/// class or one-hot targets, nothing otherwise.
pub fn default_metrics(targets: &Targets) -> Vec<Box<dyn Metric>> {
    if targets.is_categorical() {
        vec![Box::new(Accuracy)]
    } else {
        Vec::new()
    }
}

/// Mean loss and default metrics (accuracy for class/one-hot targets) of
/// `model` on `data`, in batches of `batch_size`.
pub fn evaluate<E: Elem, D: Backend<E>, M: Model<E, D>, L: Loss<E, D>>(
    model: &M,
    loss: &L,
    data: &Dataset,
    batch_size: usize,
) -> Result<Evaluation> {
    let metrics = default_metrics(data.targets());
    evaluate_with(model, loss, data, batch_size, &metrics)
}

/// [`evaluate`] with explicit metrics.
pub fn evaluate_with<E: Elem, D: Backend<E>, M: Model<E, D>, L: Loss<E, D>>(
    model: &M,
    loss: &L,
    data: &Dataset,
    batch_size: usize,
    metrics: &[Box<dyn Metric>],
) -> Result<Evaluation> {
    if data.is_empty() {
        return Err(Error::data(
            "evaluation dataset",
            "at least 1 sample",
            "it is empty",
        ));
    }
    data.check_shapes(M::NAME, M::INPUT_SHAPE, M::OUTPUT_SHAPE)?;
    data.check_finite()?;
    let dev = model_device(model);
    let n = shape_len(M::OUTPUT_SHAPE);
    let mut loss_sum = 0.0;
    let mut sums = vec![(0.0f64, 0usize); metrics.len()];
    for batch in data.batches(batch_size, None)? {
        let b = batch.len();
        let x = input_tensor::<E, D, M>(&dev, &batch.features, b)?;
        let y = model.try_forward(x)?;
        let pred: Vec<f32> = if metrics.is_empty() {
            Vec::new()
        } else {
            y.as_vec().into_iter().map(to_f32).collect()
        };
        let y = y.try_reshape_like(&(b, n)).dev()?;
        let l = scalar(&target_loss(loss, &dev, y, &batch.targets)?);
        loss_sum += l * b as f64;
        for (m, s) in metrics.iter().zip(sums.iter_mut()) {
            let (v, c) = m.score(&pred, n, &batch.targets)?;
            s.0 += v;
            s.1 += c;
        }
    }
    Ok(Evaluation {
        loss: loss_sum / data.len() as f64,
        metrics: metrics
            .iter()
            .zip(&sums)
            .map(|(m, (v, c))| (m.name(), v / (*c).max(1) as f64))
            .collect(),
        samples: data.len(),
    })
}

/// Model outputs for flat `features` (any number of samples, each
/// `prod(INPUT_SHAPE)` values), one `Vec` per sample.
pub fn predict<E: Elem, D: Device<E>, M: Model<E, D>>(
    model: &M,
    features: &[f32],
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    if batch_size == 0 {
        return Err(Error::config(
            "batch size",
            batch_size,
            "must be at least 1",
        ));
    }
    let per = shape_len(M::INPUT_SHAPE);
    if !features.len().is_multiple_of(per) {
        return Err(Error::Shape {
            what: format!(
                "predict: {} feature values are not whole samples of model {} input {} ({per} values each)",
                features.len(),
                M::NAME,
                fmt_shape(M::INPUT_SHAPE)
            ),
            expected: M::INPUT_SHAPE.to_vec(),
            got: vec![features.len()],
        });
    }
    check_finite("predict input", features, per)?;
    let dev = model_device(model);
    let n = shape_len(M::OUTPUT_SHAPE);
    let mut out = Vec::with_capacity(features.len() / per);
    for chunk in features.chunks(batch_size * per) {
        let b = chunk.len() / per;
        let y = forward_batch(model, &dev, chunk, b)?;
        out.extend(y.chunks(n).map(|r| r.to_vec()));
    }
    Ok(out)
}

/// Model outputs for every sample of `data`.
pub fn predict_dataset<E: Elem, D: Device<E>, M: Model<E, D>>(
    model: &M,
    data: &Dataset,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    if data.sample_len() != shape_len(M::INPUT_SHAPE) {
        return Err(Error::Shape {
            what: format!("predict: dataset samples for model {} input", M::NAME),
            expected: M::INPUT_SHAPE.to_vec(),
            got: data.sample_shape().to_vec(),
        });
    }
    predict(model, data.features(), batch_size)
}

/// The output for one sample. Errors (never panics) when `x` does not have
/// exactly `prod(INPUT_SHAPE)` values:
/// `input has 783 values, model Mlp expects 784 = [1, 28, 28]`.
pub fn predict_one<E: Elem, D: Device<E>, M: Model<E, D>>(
    model: &M,
    x: &[f32],
) -> Result<Vec<f32>> {
    let per = shape_len(M::INPUT_SHAPE);
    if x.len() != per {
        return Err(Error::Shape {
            what: format!(
                "predict_one: input has {} values, model {} expects {per} = {}",
                x.len(),
                M::NAME,
                fmt_shape(M::INPUT_SHAPE)
            ),
            expected: M::INPUT_SHAPE.to_vec(),
            got: vec![x.len()],
        });
    }
    check_finite("predict input", x, per)?;
    let dev = model_device(model);
    forward_batch(model, &dev, x, 1)
}

/// Class probabilities from a model's outputs (logits): a softmax over
/// them, or for a single output (a binary classifier trained with a
/// sigmoid / BCE-with-logits loss) `[1 - p, p]` with `p = sigmoid(y)`.
pub fn probabilities(logits: &[f32]) -> Vec<f32> {
    if let [y] = logits {
        let p = 1.0 / (1.0 + (-y).exp());
        return vec![1.0 - p, p];
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// `values` as `&[E]` when `E` is `f32` (no copy), else `None`.
fn as_elems<E: Elem>(values: &[f32]) -> Option<&[E]> {
    if std::any::TypeId::of::<E>() == std::any::TypeId::of::<f32>() {
        // SAFETY: `E` is `f32` (same type, so same size and alignment).
        Some(unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<E>(), values.len()) })
    } else {
        None
    }
}

/// `values` as `&mut [E]` when `E` is `f32`, else `None`.
fn as_elems_mut<E: Elem>(values: &mut [f32]) -> Option<&mut [E]> {
    if std::any::TypeId::of::<E>() == std::any::TypeId::of::<f32>() {
        // SAFETY: `E` is `f32` (same type, so same size and alignment).
        Some(unsafe {
            std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<E>(), values.len())
        })
    } else {
        None
    }
}

/// A trained model packaged for an application: checks input lengths and
/// values, and answers outputs, class probabilities and the top classes.
///
/// It owns the model ([`Predictor::new`]) or borrows it
/// ([`Predictor::borrowing`]), so the same model can keep training or be
/// saved while a predictor reads it: `M` is the model type and `H` how it
/// is held (`M` or `&M`).
///
/// Shapes: every `x` is one sample of `prod(INPUT_SHAPE)` values; outputs
/// have `prod(OUTPUT_SHAPE)` values; probabilities one per class (2 for a
/// single-output binary model).
///
/// Latency: creating a predictor turns on dfdx's buffer cache on the
/// model's device (a device-wide setting: freed tensor buffers are kept
/// for reuse instead of going back to the allocator), so after the first
/// call a single-sample prediction takes its tensor buffers from the cache;
/// [`Predictor::predict_into`] also writes the output into the caller's
/// buffer. Single-sample work runs on the calling thread (the CPU kernels
/// and dfdx's gemm split only work large enough to pay for a thread hop).
pub struct Predictor<E: Elem, D: Device<E>, M, H = M> {
    model: H,
    dev: D,
    _m: core::marker::PhantomData<(E, fn() -> M)>,
}

/// Turns on `dev`'s buffer cache; a device that cannot keep one still
/// predicts, only with fresh buffers, so a failure is not an error.
fn enable_cache<D: Cache>(dev: &D) {
    dev.try_enable_cache().ok();
}

impl<E: Elem, D: Device<E> + Cache, M: Model<E, D>> Predictor<E, D, M, M> {
    /// Wraps (and owns) a trained model.
    pub fn new(model: M) -> Self {
        let dev = model_device(&model);
        enable_cache(&dev);
        Self {
            model,
            dev,
            _m: core::marker::PhantomData,
        }
    }
}

impl<'a, E: Elem, D: Device<E> + Cache, M: Model<E, D>> Predictor<E, D, M, &'a M> {
    /// Borrows a trained model (it stays usable by its owner).
    pub fn borrowing(model: &'a M) -> Self {
        let dev = model_device(model);
        enable_cache(&dev);
        Self {
            model,
            dev,
            _m: core::marker::PhantomData,
        }
    }
}

impl<E: Elem, D: Device<E>, M: Model<E, D>, H: Borrow<M>> Predictor<E, D, M, H> {
    /// The wrapped model.
    pub fn model(&self) -> &M {
        self.model.borrow()
    }
    /// Output for one sample (see [`predict_one`]); errors on a wrong
    /// length or a NaN/infinite value.
    pub fn predict_one(&self, x: &[f32]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; shape_len(M::OUTPUT_SHAPE)];
        self.predict_into(x, &mut out)?;
        Ok(out)
    }
    /// [`Predictor::predict_one`] writing the `prod(OUTPUT_SHAPE)` outputs
    /// into `out`, for a caller that keeps its buffers; errors (and leaves
    /// `out` alone) on a wrong input or output length or a NaN/infinite
    /// input.
    pub fn predict_into(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        let (per, n) = (shape_len(M::INPUT_SHAPE), shape_len(M::OUTPUT_SHAPE));
        if x.len() != per {
            // The same error as `predict_one`.
            return predict_one(self.model(), x).map(|_| ());
        }
        if out.len() != n {
            return Err(Error::Shape {
                what: format!(
                    "predict_into: output buffer has {} values, model {} gives {n} = {}",
                    out.len(),
                    M::NAME,
                    fmt_shape(M::OUTPUT_SHAPE)
                ),
                expected: M::OUTPUT_SHAPE.to_vec(),
                got: vec![out.len()],
            });
        }
        check_finite("predict input", x, per)?;
        // The input buffer comes from the device's cache (see above).
        let mut xt = self.dev.try_zeros_like(&M::input_shape(1)).dev()?;
        match as_elems::<E>(x) {
            Some(xe) => xt.copy_from(xe),
            None => xt.copy_from(&x.iter().map(|&v| to_elem::<E>(v)).collect::<Vec<E>>()),
        }
        let y = self.model().try_forward(xt)?;
        match as_elems_mut::<E>(out) {
            Some(oe) => y.copy_into(oe),
            None => {
                for (o, v) in out.iter_mut().zip(y.as_vec()) {
                    *o = to_f32(v);
                }
            }
        }
        Ok(())
    }
    /// Outputs for many samples given as flat features.
    pub fn predict(&self, features: &[f32], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        predict(self.model(), features, batch_size)
    }
    /// Class probabilities of one sample: the softmax of the outputs (see
    /// [`probabilities`]); they sum to 1.
    pub fn predict_proba(&self, x: &[f32]) -> Result<Vec<f32>> {
        Ok(probabilities(&self.predict_one(x)?))
    }
    /// The `k` most probable classes of one sample as `(class, probability)`,
    /// most probable first (ties: lower class first); fewer when the model
    /// has fewer classes.
    pub fn top_k(&self, x: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        let mut p: Vec<(usize, f32)> = self.predict_proba(x)?.into_iter().enumerate().collect();
        p.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        p.truncate(k);
        Ok(p)
    }
    /// The most probable class of one sample and its probability.
    pub fn classify(&self, x: &[f32]) -> Result<(usize, f32)> {
        let top = self.top_k(x, 1)?;
        top.first().copied().ok_or_else(|| {
            Error::data(
                format!("model {} output", M::NAME),
                "at least 1 value",
                "0 values",
            )
        })
    }
    /// The device the model lives on.
    pub fn device(&self) -> &D {
        &self.dev
    }
}
