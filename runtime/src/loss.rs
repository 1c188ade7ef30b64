//! Loss functions.
//!
//! `fit` flattens a model's output to `(batch, n)` before the loss, so every
//! loss takes a `Tensor<(usize, usize), E, D, T>` prediction and a [`Target`].
//! Every loss reduces by the mean (PyTorch's `reduction='mean'`; see each
//! loss for what the mean is taken over; [`Summed`] sums a per-element loss
//! over the features and averages over the batch instead), is written with dfdx tensor ops
//! (so autodiff gives its gradient on `Cpu` and `Cuda`), and reports a
//! target of the wrong kind or shape as an [`Error`], never a panic.
//!
//! ```
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::loss::{Loss, Mse, Target};
//!
//! let dev = Cpu::default();
//! let pred = dev.tensor_from_vec(vec![1.0f64, 2.0, 3.0, 4.0], (2, 2));
//! let target = dev.tensor_from_vec(vec![1.0f64, 0.0, 3.0, 2.0], (2, 2));
//! let loss = Mse.try_loss(pred.leaky_trace(), &Target::Values(&target)).unwrap();
//! assert_eq!(loss.array(), 2.0); // (0 + 4 + 0 + 4) / 4
//! ```

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Error, Result};

/// What a batch's predictions are compared with.
pub enum Target<'a, E: Elem, D: Device<E>> {
    /// Values of the same shape as the prediction (regression, one-hot, probabilities).
    Values(&'a Tensor<(usize, usize), E, D>),
    /// One class index per sample (sparse categorical cross-entropy, accuracy).
    Classes(&'a [usize]),
}

/// A loss: a scalar (mean over the batch) with a gradient.
pub trait Loss<E: Elem, D: Backend<E>> {
    /// Short name for logs and history columns (`"mse"`, `"cross_entropy"`).
    fn name(&self) -> &'static str;
    /// The mean loss over the batch. Errors (not panics) on a target of the
    /// wrong kind or shape, or a class label out of range.
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>>;
}

/// The value target of `loss`, checked to have the prediction's shape.
fn values<'a, E: Elem, D: Device<E>>(
    loss: &str,
    pred: (usize, usize),
    target: &Target<'a, E, D>,
) -> Result<&'a Tensor<(usize, usize), E, D>> {
    match target {
        Target::Values(t) => {
            let got = *t.shape();
            if got != pred {
                return Err(Error::Shape {
                    what: format!("{loss} target"),
                    expected: vec![pred.0, pred.1],
                    got: vec![got.0, got.1],
                });
            }
            Ok(t)
        }
        Target::Classes(_) => Err(Error::data(
            format!("{loss} targets"),
            "value targets (Target::Values)",
            "class labels",
        )),
    }
}

/// Checks `labels` against the batch size and the class count.
fn check_labels(loss: &str, (n, c): (usize, usize), labels: &[usize]) -> Result<()> {
    if labels.len() != n {
        return Err(Error::Shape {
            what: format!("{loss} labels (one per sample)"),
            expected: vec![n],
            got: vec![labels.len()],
        });
    }
    match labels.iter().position(|&label| label >= c) {
        Some(index) => Err(Error::LabelOutOfRange {
            index,
            label: labels[index],
            classes: c,
        }),
        None => Ok(()),
    }
}

/// `sum(target * log_softmax(logits)) / n`, negated: cross-entropy with logits.
fn soft_cross_entropy<E: Elem, D: Device<E>, T: Tape<E, D>>(
    logits: Tensor<(usize, usize), E, D, T>,
    target: Tensor<(usize, usize), E, D>,
) -> Result<Tensor<Rank0, E, D, T>> {
    let n = logits.shape().0 as f64;
    logits
        .try_log_softmax::<Axis<1>>()
        .dev()?
        .try_mul(target)
        .dev()?
        .try_sum::<Rank0, _>()
        .dev()?
        .try_mul(cast::<E>(-1.0 / n))
        .dev()
}

/// Mean squared error: `mean((pred - target)^2)` over all `N*D` elements.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mse;

impl<E: Elem, D: Backend<E>> Loss<E, D> for Mse {
    fn name(&self) -> &'static str {
        "mse"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let t = values("mse", *pred.shape(), target)?;
        pred.try_sub(t.clone())
            .dev()?
            .try_square()
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()
    }
}

/// Mean absolute error (L1): `mean(|pred - target|)` over all elements; the
/// gradient uses `sign(0) = 0` like PyTorch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mae;

impl<E: Elem, D: Backend<E>> Loss<E, D> for Mae {
    fn name(&self) -> &'static str {
        "mae"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let t = values("mae", *pred.shape(), target)?;
        pred.try_sub(t.clone())
            .dev()?
            .try_abs()
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()
    }
}

/// Huber loss: with `d = pred - target`, `0.5*d^2` where `|d| <= delta`,
/// else `delta*(|d| - 0.5*delta)`; mean over all elements
/// (`torch.nn.functional.huber_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Huber {
    /// Where the loss turns from quadratic to linear (> 0).
    pub delta: f64,
}

impl Huber {
    /// A Huber loss with the given `delta` (finite, > 0, else `Error::InvalidConfig`).
    pub fn new(delta: f64) -> Result<Self> {
        if delta.is_finite() && delta > 0.0 {
            Ok(Self { delta })
        } else {
            Err(Error::config(
                "Huber delta",
                delta,
                "must be finite and > 0",
            ))
        }
    }
}

impl Default for Huber {
    /// `delta = 1` (PyTorch's default).
    fn default() -> Self {
        Self { delta: 1.0 }
    }
}

impl<E: Elem, D: Backend<E>> Loss<E, D> for Huber {
    fn name(&self) -> &'static str {
        "huber"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let t = values("huber", *pred.shape(), target)?;
        pred.try_huber_error(t.clone(), self.delta)
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()
    }
}

/// Binary cross-entropy on probabilities in `[0, 1]`:
/// `mean(-(t*log(p) + (1-t)*log(1-p)))` over all elements, each log clamped
/// at -100 like PyTorch's `binary_cross_entropy`, and PyTorch's gradient
/// `(p - t) / max(p (1 - p), 1e-12)` over the element count (finite at a
/// saturated `p` of exactly 0 or 1). Prefer [`BceWithLogits`]
/// (numerically stable) when the model's last layer is linear.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bce;

impl<E: Elem, D: Backend<E>> Loss<E, D> for Bce {
    fn name(&self) -> &'static str {
        "bce"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let t = values("bce", *pred.shape(), target)?;
        let (n, m) = *pred.shape();
        let (p, tape) = pred.split_tape();
        // The value, without a tape: each log clamped at -100.
        let log_p = p
            .clone()
            .try_ln()
            .dev()?
            .try_clamp(-100.0, f64::INFINITY)
            .dev()?;
        let log_1mp = p
            .clone()
            .try_negate()
            .dev()?
            .try_add(E::one())
            .dev()?
            .try_ln()
            .dev()?
            .try_clamp(-100.0, f64::INFINITY)
            .dev()?;
        let one_minus_t = t.clone().try_negate().dev()?.try_add(E::one()).dev()?;
        let a = log_p.try_mul(t.clone()).dev()?;
        let b = log_1mp.try_mul(one_minus_t).dev()?;
        let value = a
            .try_add(b)
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()?
            .try_negate()
            .dev()?;
        // The gradient, PyTorch's closed form (p - t) / max(p (1 - p), 1e-12)
        // over the element count: finite where a saturated p (exactly 0 or
        // 1) would make the clamped log's own gradient 0 / 0. It rides on
        // sum((p - p') * g) with p' a tape-less copy of p: the value is
        // exactly 0, the gradient with respect to p is g.
        let denom = p
            .clone()
            .try_mul(p.clone().try_negate().dev()?.try_add(E::one()).dev()?)
            .dev()?
            .try_clamp(1e-12, f64::INFINITY)
            .dev()?;
        let g = p
            .clone()
            .try_sub(t.clone())
            .dev()?
            .try_div(denom)
            .dev()?
            .try_mul(cast::<E>(1.0 / (n * m).max(1) as f64))
            .dev()?;
        let p_copy = p.clone().try_mul(E::one()).dev()?;
        p.put_tape(tape)
            .try_sub(p_copy)
            .dev()?
            .try_mul(g)
            .dev()?
            .try_sum::<Rank0, _>()
            .dev()?
            .try_add(value)
            .dev()
    }
}

/// Binary cross-entropy on logits (`torch.nn.functional.binary_cross_entropy_with_logits`):
/// per element `max(x,0) - x*t + log(1 + exp(-|x|))`, mean over all elements.
#[derive(Debug, Clone, Copy, Default)]
pub struct BceWithLogits;

impl<E: Elem, D: Backend<E>> Loss<E, D> for BceWithLogits {
    fn name(&self) -> &'static str {
        "bce_with_logits"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let t = values("bce_with_logits", *pred.shape(), target)?;
        pred.try_bce_with_logits(t.clone())
            .dev()?
            .try_mean::<Rank0, _>()
            .dev()
    }
}

/// Categorical cross-entropy on logits (`torch.nn.functional.cross_entropy`):
/// `mean over the N rows of -sum_c target[n,c] * log_softmax(logits)[n,c]`
/// (divides by N, not N*C). Targets are one-hot rows or probability rows
/// ([`Target::Values`]); class labels ([`Target::Classes`]) are accepted too
/// and give [`SparseCrossEntropy`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropy;

impl<E: Elem, D: Backend<E>> Loss<E, D> for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        if let Target::Classes(_) = target {
            return SparseCrossEntropy.try_loss(pred, target);
        }
        let t = values("cross_entropy", *pred.shape(), target)?;
        soft_cross_entropy(pred, t.clone())
    }
}

/// Sparse categorical cross-entropy: integer class labels
/// ([`Target::Classes`], one per row), `mean_n -log_softmax(logits)[n, label_n]`.
/// A label `>= classes` is [`Error::LabelOutOfRange`]; a label count other
/// than the batch size is [`Error::Shape`].
///
/// ```
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::loss::{Loss, SparseCrossEntropy, Target};
///
/// let dev = Cpu::default();
/// let logits = dev.tensor_from_vec(vec![0.0f64, 0.0, 0.0, 0.0], (2, 2));
/// let loss = SparseCrossEntropy.try_loss(logits.clone(), &Target::Classes(&[0, 1])).unwrap();
/// assert!((loss.array() - 2f64.ln()).abs() < 1e-12);
/// assert!(SparseCrossEntropy.try_loss(logits, &Target::Classes(&[0, 2])).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SparseCrossEntropy;

impl<E: Elem, D: Backend<E>> Loss<E, D> for SparseCrossEntropy {
    fn name(&self) -> &'static str {
        "sparse_cross_entropy"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let Target::Classes(labels) = target else {
            return Err(Error::data(
                "sparse_cross_entropy targets",
                "class labels (Target::Classes)",
                "value targets",
            ));
        };
        check_labels("sparse_cross_entropy", *pred.shape(), labels)?;
        // One pass over the logits on `Cpu` (`kernels::loss_cpu`).
        D::sparse_cross_entropy(pred, labels).dev()
    }
}

/// [`SparseCrossEntropy`] with dfdx ops, for every device (the default of
/// [`Backend::sparse_cross_entropy`]); `labels` already checked.
pub(crate) fn sparse_cross_entropy_generic<E: Elem, D: Device<E>, T: Tape<E, D>>(
    logits: Tensor<(usize, usize), E, D, T>,
    labels: &[usize],
) -> Result<Tensor<Rank0, E, D, T>, D::Err> {
    let (n, c) = *logits.shape();
    let mut data = vec![E::zero(); n * c];
    for (i, &label) in labels.iter().enumerate() {
        data[i * c + label] = E::one();
    }
    let t = logits.device().try_tensor_from_vec(data, (n, c))?;
    logits
        .try_log_softmax::<Axis<1>>()?
        .try_mul(t)?
        .try_sum::<Rank0, _>()?
        .try_mul(cast::<E>(-1.0 / n as f64))
}

/// How [`KlDivergence`] averages `sum t*(log t - log q)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KlReduction {
    /// Divide by the batch size N: the true mean KL per sample (PyTorch
    /// `reduction='batchmean'`, Keras `KLDivergence`). The default.
    #[default]
    BatchMean,
    /// Divide by N*C (PyTorch's default `reduction='mean'`, which PyTorch
    /// itself warns is not the KL mean).
    Mean,
}

/// What the prediction given to [`KlDivergence`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KlInput {
    /// Logits: `log q = log_softmax(pred)` (stable). The default.
    #[default]
    Logits,
    /// Probabilities: `log q = log(pred)` (clamped at -100 like BCE).
    Probabilities,
}

/// Kullback-Leibler divergence `KL(target || q) = sum_c t*(log t - log q)`,
/// with `q` given as logits or probabilities ([`KlInput`]) and the total
/// divided by N or N*C ([`KlReduction`]). Terms with `t = 0` count as 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct KlDivergence {
    pub reduction: KlReduction,
    pub input: KlInput,
}

impl<E: Elem, D: Backend<E>> Loss<E, D> for KlDivergence {
    fn name(&self) -> &'static str {
        "kl_divergence"
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let (n, c) = *pred.shape();
        let t = values("kl_divergence", (n, c), target)?;
        let denom = match self.reduction {
            KlReduction::BatchMean => n as f64,
            KlReduction::Mean => (n * c) as f64,
        };
        let log_q = match self.input {
            KlInput::Logits => pred.try_log_softmax::<Axis<1>>().dev()?,
            KlInput::Probabilities => pred
                .try_ln()
                .dev()?
                .try_clamp(-100.0, f64::INFINITY)
                .dev()?,
        };
        // sum t*log t, with 0*log 0 = 0 (log clamped at the smallest normal).
        let tiny = num_traits::cast::<E, f64>(E::min_positive_value()).unwrap_or(f64::MIN_POSITIVE);
        let entropy_term = t
            .clone()
            .try_clamp(tiny, f64::INFINITY)
            .dev()?
            .try_ln()
            .dev()?
            .try_mul(t.clone())
            .dev()?
            .try_sum::<Rank0, _>()
            .dev()?;
        let cross = log_q
            .try_mul(t.clone())
            .dev()?
            .try_sum::<Rank0, _>()
            .dev()?;
        cross
            .try_negate()
            .dev()?
            .try_add(entropy_term)
            .dev()?
            .try_div(cast::<E>(denom))
            .dev()
    }
}

/// A loss whose mean is taken over every element of the `(N, D)` batch
/// (MSE, MAE, Huber, BCE, BCE with logits): [`Summed`] turns it into the sum
/// over each sample's `D` features, averaged over the `N` samples.
pub trait PerElement {
    /// The history name of the summed form (`"bce_sum"`).
    const SUMMED_NAME: &'static str;
}

/// A per-element loss `L` summed over each sample's features and averaged
/// over the batch: `sum_{n,d} l(pred, target) / N`, which is `D` times `L`'s
/// mean (and so is its gradient). The VAE's ELBO uses it for the
/// reconstruction term (BCE or MSE summed over the pixels), so that the KL
/// term, also summed over the latent units, keeps its relative weight.
/// Built with `Bce.summed()`, `Mse.summed()`, ...; named `bce_sum`, `mse_sum`, ...
///
/// ```
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::loss::{Loss, Mse, Target};
///
/// let dev = Cpu::default();
/// let pred = dev.tensor_from_vec(vec![1.0f64, 2.0, 3.0, 4.0], (2, 2));
/// let target = dev.tensor_from_vec(vec![1.0f64, 0.0, 3.0, 2.0], (2, 2));
/// let loss = Mse.summed().try_loss(pred.leaky_trace(), &Target::Values(&target)).unwrap();
/// assert_eq!(loss.array(), 4.0); // (0 + 4 + 0 + 4) / 2 samples
/// assert_eq!(Loss::<f64, Cpu>::name(&Mse.summed()), "mse_sum");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summed<L>(pub L);

impl<E: Elem, D: Backend<E>, L: Loss<E, D> + PerElement> Loss<E, D> for Summed<L> {
    fn name(&self) -> &'static str {
        L::SUMMED_NAME
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        let features = pred.shape().1;
        self.0
            .try_loss(pred, target)?
            .try_mul(cast::<E>(features as f64))
            .dev()
    }
}

macro_rules! per_element {
    ($($loss:ident => $name:literal),* $(,)?) => {$(
        impl PerElement for $loss {
            const SUMMED_NAME: &'static str = $name;
        }
        impl $loss {
            /// This loss summed over each sample's features and averaged
            /// over the batch ([`Summed`]).
            pub const fn summed(self) -> Summed<Self> {
                Summed(self)
            }
        }
    )*};
}

per_element!(
    Mse => "mse_sum",
    Mae => "mae_sum",
    Huber => "huber_sum",
    Bce => "bce_sum",
    BceWithLogits => "bce_with_logits_sum",
);

/// Any of the losses above, chosen at run time (e.g. from a training
/// configuration); it delegates to the named loss.
///
/// ```
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::loss::{AnyLoss, Loss, Target};
///
/// let dev = Cpu::default();
/// let logits = dev.tensor_from_vec(vec![2.0f32, 0.0, 0.0, 2.0], (2, 2));
/// let loss = AnyLoss::SparseCrossEntropy;
/// assert_eq!(Loss::<f32, Cpu>::name(&loss), "sparse_cross_entropy");
/// let l = loss.try_loss(logits, &Target::Classes(&[0, 1])).unwrap();
/// assert!((l.array() - (1.0 + (-2.0f32).exp()).ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AnyLoss {
    Mse,
    Mae,
    Huber(Huber),
    Bce,
    BceWithLogits,
    CrossEntropy,
    SparseCrossEntropy,
    KlDivergence(KlDivergence),
}

impl<E: Elem, D: Backend<E>> Loss<E, D> for AnyLoss {
    fn name(&self) -> &'static str {
        match self {
            Self::Mse => Loss::<E, D>::name(&Mse),
            Self::Mae => Loss::<E, D>::name(&Mae),
            Self::Huber(l) => Loss::<E, D>::name(l),
            Self::Bce => Loss::<E, D>::name(&Bce),
            Self::BceWithLogits => Loss::<E, D>::name(&BceWithLogits),
            Self::CrossEntropy => Loss::<E, D>::name(&CrossEntropy),
            Self::SparseCrossEntropy => Loss::<E, D>::name(&SparseCrossEntropy),
            Self::KlDivergence(l) => Loss::<E, D>::name(l),
        }
    }
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>> {
        match self {
            Self::Mse => Mse.try_loss(pred, target),
            Self::Mae => Mae.try_loss(pred, target),
            Self::Huber(l) => l.try_loss(pred, target),
            Self::Bce => Bce.try_loss(pred, target),
            Self::BceWithLogits => BceWithLogits.try_loss(pred, target),
            Self::CrossEntropy => CrossEntropy.try_loss(pred, target),
            Self::SparseCrossEntropy => SparseCrossEntropy.try_loss(pred, target),
            Self::KlDivergence(l) => l.try_loss(pred, target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sxima_testkit::assert_gradient_matches;

    fn m(dev: &Cpu, rows: usize, cols: usize, v: &[f64]) -> Tensor<(usize, usize), f64, Cpu> {
        dev.tensor_from_vec(v.to_vec(), (rows, cols))
    }

    #[test]
    fn bce_gradient_is_pytorchs_closed_form_and_finite_at_saturated_probabilities() {
        let dev = Cpu::default();
        // Saturated, moderate and fractional-target cases, in f64 and f32.
        let p: [f64; 6] = [0.0, 1.0, 0.3, 0.999, 1e-20, 0.5];
        let t: [f64; 6] = [1.0, 0.0, 0.0, 0.25, 1.0, 0.5];
        let count = p.len() as f64;
        let want_value = -p
            .iter()
            .zip(&t)
            .map(|(&p, &t)| t * p.ln().max(-100.0) + (1.0 - t) * (1.0 - p).ln().max(-100.0))
            .sum::<f64>()
            / count;
        let want_grad: Vec<f64> = p
            .iter()
            .zip(&t)
            .map(|(&p, &t)| (p - t) / (p * (1.0 - p)).max(1e-12) / count)
            .collect();
        let pred = m(&dev, 2, 3, &p);
        let target = m(&dev, 2, 3, &t);
        let l = Bce
            .try_loss(pred.leaky_trace(), &Target::Values(&target))
            .unwrap();
        assert!((l.array() - want_value).abs() <= 1e-12 * want_value.abs());
        let g = l.backward().get(&pred).as_vec();
        for (got, want) in g.iter().zip(&want_grad) {
            assert!(got.is_finite());
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1e-12),
                "{got} vs {want}"
            );
        }
        let pred32: Tensor<(usize, usize), f32, Cpu> =
            dev.tensor_from_vec(p.iter().map(|&v| v as f32).collect(), (2, 3));
        let target32: Tensor<(usize, usize), f32, Cpu> =
            dev.tensor_from_vec(t.iter().map(|&v| v as f32).collect(), (2, 3));
        let l = Bce
            .try_loss(pred32.leaky_trace(), &Target::Values(&target32))
            .unwrap();
        let g = l.backward().get(&pred32).as_vec();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }

    #[test]
    fn wrong_target_kind_shape_or_label_is_an_error_not_a_panic() {
        let dev = Cpu::default();
        let p = m(&dev, 2, 3, &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        let wrong_shape = m(&dev, 3, 2, &[0.0; 6]);
        let values = Target::Values(&wrong_shape);
        let classes = Target::Classes(&[0, 1]);

        for r in [
            Mse.try_loss(p.clone(), &values),
            Mae.try_loss(p.clone(), &values),
            Huber::default().try_loss(p.clone(), &values),
            Bce.try_loss(p.clone(), &values),
            BceWithLogits.try_loss(p.clone(), &values),
            CrossEntropy.try_loss(p.clone(), &values),
            KlDivergence::default().try_loss(p.clone(), &values),
        ] {
            assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
        }
        for r in [
            Mse.try_loss(p.clone(), &classes),
            Mae.try_loss(p.clone(), &classes),
            Bce.try_loss(p.clone(), &classes),
            KlDivergence::default().try_loss(p.clone(), &classes),
        ] {
            assert!(matches!(r, Err(Error::DataFormat { .. })), "{r:?}");
        }
        let ok = m(&dev, 2, 3, &[0.0; 6]);
        assert!(matches!(
            SparseCrossEntropy.try_loss(p.clone(), &Target::Values(&ok)),
            Err(Error::DataFormat { .. })
        ));
        assert!(matches!(
            SparseCrossEntropy.try_loss(p.clone(), &Target::Classes(&[0, 3])),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 3,
                classes: 3
            })
        ));
        assert!(matches!(
            SparseCrossEntropy.try_loss(p.clone(), &Target::Classes(&[0, 1, 2])),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(Huber::new(0.0), Err(Error::InvalidConfig { .. })));
    }

    #[test]
    fn bce_clamps_the_log_at_minus_100_like_torch() {
        let dev = Cpu::default();
        let p = m(&dev, 1, 2, &[0.0, 1.0]);
        let t = m(&dev, 1, 2, &[1.0, 0.0]);
        let l = Bce.try_loss(p, &Target::Values(&t)).unwrap().array();
        assert_eq!(l, 100.0);
    }

    #[test]
    fn kl_divergence_ignores_zero_targets_and_is_zero_at_the_target() {
        let dev = Cpu::default();
        let t = m(&dev, 1, 3, &[0.0, 0.25, 0.75]);
        let logits = m(&dev, 1, 3, &[-1e3, 0.25f64.ln(), 0.75f64.ln()]);
        let l = KlDivergence::default()
            .try_loss(logits, &Target::Values(&t))
            .unwrap()
            .array();
        assert!(l.abs() < 1e-12, "{l}");
    }

    /// `Summed(L)` is the per-sample sum over features averaged over the
    /// batch: `D` times `L`'s mean, in value and gradient, computed directly.
    #[test]
    fn summed_losses_are_feature_sums_averaged_over_the_batch() {
        let dev = Cpu::default();
        let (n, d) = (3, 4);
        let x: Vec<f64> = (0..n * d)
            .map(|i| 0.05 + 0.9 * ((i * 7) % 11) as f64 / 11.0)
            .collect();
        let t: Vec<f64> = (0..n * d).map(|i| ((i * 5) % 3) as f64 / 2.0).collect();
        let target = m(&dev, n, d, &t);
        let target = Target::Values(&target);
        let p = m(&dev, n, d, &x);
        fn value_grad<L: Loss<f64, Cpu>>(
            l: &L,
            p: &Tensor<(usize, usize), f64, Cpu>,
            t: &Target<'_, f64, Cpu>,
        ) -> (f64, Vec<f64>) {
            let v = l.try_loss(p.leaky_trace(), t).unwrap();
            let value = v.array();
            (value, v.backward().get(p).as_vec())
        }
        let check = |name: &str, mean: (f64, Vec<f64>), sum: (f64, Vec<f64>), direct: f64| {
            assert!((sum.0 - d as f64 * mean.0).abs() < 1e-12, "{name}");
            assert!(
                (sum.0 - direct).abs() < 1e-12,
                "{name}: {} vs {direct}",
                sum.0
            );
            for (a, b) in sum.1.iter().zip(&mean.1) {
                assert!((a - d as f64 * b).abs() < 1e-12, "{name} gradient");
            }
        };
        let per_sample = |f: &dyn Fn(f64, f64) -> f64| {
            x.iter().zip(&t).map(|(&p, &t)| f(p, t)).sum::<f64>() / n as f64
        };
        check(
            "mse",
            value_grad(&Mse, &p, &target),
            value_grad(&Mse.summed(), &p, &target),
            per_sample(&|p, t| (p - t) * (p - t)),
        );
        check(
            "bce",
            value_grad(&Bce, &p, &target),
            value_grad(&Bce.summed(), &p, &target),
            per_sample(&|p, t| -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())),
        );
        check(
            "mae",
            value_grad(&Mae, &p, &target),
            value_grad(&Mae.summed(), &p, &target),
            per_sample(&|p, t| (p - t).abs()),
        );
        assert_eq!(Loss::<f64, Cpu>::name(&Bce.summed()), "bce_sum");
        assert_eq!(Loss::<f64, Cpu>::name(&Mse.summed()), "mse_sum");
        assert_eq!(
            Loss::<f64, Cpu>::name(&BceWithLogits.summed()),
            "bce_with_logits_sum"
        );
        // The wrapped loss's errors pass through.
        let wrong = m(&dev, 1, 1, &[0.0]);
        assert!(Bce
            .summed()
            .try_loss(p.clone(), &Target::Values(&wrong))
            .is_err());
    }

    #[test]
    fn cross_entropy_and_huber_gradients_match_finite_differences() {
        let dev = Cpu::default();
        let x = [0.3, -1.2, 2.0, 0.7, 0.1, -0.4];
        let t = m(&dev, 2, 3, &[0.2, 0.5, 0.3, 0.0, 0.0, 1.0]);
        let target = Target::Values(&t);
        type Traced = Tensor<(usize, usize), f64, Cpu, OwnedTape<f64, Cpu>>;
        let losses: [&dyn Fn(Traced) -> _; 2] = [&|p| CrossEntropy.try_loss(p, &target), &|p| {
            Huber::new(0.5).unwrap().try_loss(p, &target)
        }];
        for (i, loss) in losses.iter().enumerate() {
            let p = m(&dev, 2, 3, &x);
            let l = loss(p.leaky_trace()).unwrap();
            let g = l.backward().get(&p).as_vec();
            assert_gradient_matches(&format!("loss {i}"), &x, &g, 1e-6, 1e-6, |v| {
                loss(m(&dev, 2, 3, v).leaky_trace()).unwrap().array()
            });
        }
    }
}
