//! `StochasticDepth`: drops a residual branch per sample in training
//! (torchvision's `StochasticDepth(p, mode="row")`, Huang et al. 2016).
//!
//! Shape in = shape out, any rank with the batch first. `Module` (any tape)
//! is inference and returns the input unchanged; `ModuleMut` is training:
//! each sample's whole tensor is zeroed with probability `p` (one draw per
//! sample from the device RNG) and the kept samples are scaled by
//! `1/(1-p)`. Placed as the last layer of a `residual` body, it drops the
//! branch and keeps the shortcut, as in EfficientNet's `MBConv`.

use dfdx::nn::{Module, ModuleMut};
use dfdx::prelude::{HasShape, Shape, Tape, Tensor};
use dfdx::tensor_ops::TryMul;
use rand_distr::Uniform;

use crate::backend::Backend;
use crate::elem::{cast, Elem};

/// Per-sample branch dropping with probability `p` ("row" mode).
///
/// `p <= 0` (or NaN) never drops; `p >= 1` drops every sample (the output is
/// zero, as torchvision's). The `model!` macro accepts `0 <= p < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticDepth {
    /// Probability of dropping a sample's branch in training.
    pub p: f64,
}

impl StochasticDepth {
    /// Drops each sample's branch with probability `p` during training.
    pub const fn new(p: f64) -> Self {
        Self { p }
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>>
    for StochasticDepth
{
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    /// Inference: the identity.
    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        Ok(x)
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> ModuleMut<Tensor<S, E, D, T>>
    for StochasticDepth
{
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    /// Training: per sample, zero with probability `p`, else scale by `1/(1-p)`.
    fn try_forward_mut(&mut self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        if self.p.is_nan() || self.p <= 0.0 {
            return Ok(x);
        }
        if self.p >= 1.0 {
            return x.try_mul(E::zero());
        }
        let shape = *x.shape();
        let numel = shape.num_elements();
        let batch = if S::NUM_DIMS == 0 {
            1
        } else {
            shape.concrete()[0]
        };
        let per_sample = numel.checked_div(batch).unwrap_or(0);
        let dev = x.device().clone();
        let draws: Tensor<(usize,), E, D> =
            dev.try_sample_like(&(batch,), Uniform::new(E::zero(), E::one()))?;
        let keep = 1.0 - self.p;
        let (scale, keep): (E, E) = (cast(1.0 / keep), cast(keep));
        let mut mask = Vec::with_capacity(numel);
        for u in draws.as_vec() {
            // `u` is uniform in [0, 1): kept with probability `1 - p`.
            let m = if u < keep { scale } else { E::zero() };
            mask.resize(mask.len() + per_sample, m);
        }
        let mask = dev.try_tensor_from_vec(mask, shape)?;
        x.try_mul(mask)
    }
}
