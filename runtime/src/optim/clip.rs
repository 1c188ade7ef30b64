//! Gradient clipping (PyTorch's `clip_grad_norm_` / `clip_grad_value_`) and
//! per-parameter gradient norms for monitoring.
//!
//! Clipping can be used two ways: call [`clip_grad_norm`] / [`clip_grad_value`]
//! on the gradients before `opt.step(..)`, or set `clip: Some(Clip::..)` in any
//! optimizer's config, which clips inside the step without copying gradients.

use std::collections::BTreeMap;

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use dfdx::prelude::*;

use super::grads::{has_grad, set_grad, sq_norms, GradsRef};
use super::validate::check;
use crate::backend::Backend;
use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Error, Result};

/// How gradients are clipped before an update.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Clip {
    /// Scale all gradients by `max_norm / (total + 1e-6)` when that is below 1,
    /// where `total` is the L2 norm over every element of every gradient.
    Norm(f64),
    /// Clamp every gradient element to `[-v, v]`.
    Value(f64),
}

/// The global L2 norm of all gradients, `sqrt(sum over tensors and elements of g^2)`.
pub fn grad_global_norm<M: TensorCollection<E, D>, E: Elem, D: Backend<E>>(
    model: &M,
    grads: &Gradients<E, D>,
) -> Result<f64> {
    Ok(sq_norms(model, GradsRef::Shared(grads))?
        .iter()
        .map(|(_, v)| v)
        .sum::<f64>()
        .sqrt())
}

/// The L2 norm of each trainable parameter's gradient, keyed by parameter
/// path (`"fc1.weight"`); parameters without a gradient are absent.
///
/// ```
/// # use sxima_runtime::dfdx::prelude::*;
/// # use sxima_runtime::optim::grad_norms;
/// let dev = Cpu::default();
/// let model = dev.build_module::<Linear<2, 1>, f64>();
/// let x = dev.tensor([[1.0, 2.0]]);
/// let grads = model.forward(x.traced(model.alloc_grads())).sum().backward();
/// let norms = grad_norms(&model, &grads).unwrap();
/// assert!((norms["weight"] - 5f64.sqrt()).abs() < 1e-12); // d/dw = x
/// assert_eq!(norms["bias"], 1.0);
/// ```
pub fn grad_norms<M: TensorCollection<E, D>, E: Elem, D: Backend<E>>(
    model: &M,
    grads: &Gradients<E, D>,
) -> Result<BTreeMap<String, f64>> {
    Ok(sq_norms(model, GradsRef::Shared(grads))?
        .into_iter()
        .map(|(k, v)| (k, v.sqrt()))
        .collect())
}

/// Rewrites every trainable gradient in place.
struct Rewrite<'a, E: Elem, D: Device<E>> {
    grads: &'a mut Gradients<E, D>,
    op: Op,
}

#[derive(Clone, Copy)]
enum Op {
    Scale(f64),
    Clamp(f64),
}

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for Rewrite<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = Error;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (p, _name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>> {
        if !opts.do_gradient_update || !has_grad(opts, p, self.grads)? {
            return Ok(None);
        }
        let g = self.grads.get(p);
        let new = match self.op {
            Op::Scale(c) => g.try_mul(cast::<E>(c)).dev()?,
            Op::Clamp(c) => g.try_clamp(-c, c).dev()?,
        };
        set_grad(self.grads, p, new)?;
        Ok(None)
    }
}

fn rewrite<M: TensorCollection<E, D>, E: Elem, D: Device<E>>(
    model: &M,
    grads: &mut Gradients<E, D>,
    op: Op,
) -> Result<()> {
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut Rewrite { grads, op },
    })?;
    Ok(())
}

/// PyTorch's `clip_grad_norm_(params, max_norm)`: computes the global L2 norm
/// of all trainable gradients of `model`; if `max_norm / (norm + 1e-6) < 1`,
/// scales every gradient by that factor. Returns the norm before clipping.
/// `max_norm` must be finite and > 0 (else `Error::InvalidConfig`).
///
/// ```
/// # use sxima_runtime::dfdx::prelude::*;
/// # use sxima_runtime::optim::{clip_grad_norm, grad_global_norm};
/// let dev = Cpu::default();
/// let model = dev.build_module::<Linear<2, 1>, f64>();
/// let x = dev.tensor([[3.0, 4.0]]);
/// let mut grads = model.forward(x.traced(model.alloc_grads())).sum().backward();
/// let before = clip_grad_norm(&model, &mut grads, 1.0).unwrap();
/// assert!((before - 26f64.sqrt()).abs() < 1e-12); // |(3, 4, 1)|
/// assert!((grad_global_norm(&model, &grads).unwrap() - 1.0).abs() < 1e-5);
/// ```
pub fn clip_grad_norm<M: TensorCollection<E, D>, E: Elem, D: Backend<E>>(
    model: &M,
    grads: &mut Gradients<E, D>,
    max_norm: f64,
) -> Result<f64> {
    check_clip(Some(Clip::Norm(max_norm)))?;
    let total = grad_global_norm(model, grads)?;
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        rewrite(model, grads, Op::Scale(coef))?;
    }
    Ok(total)
}

/// PyTorch's `clip_grad_value_(params, clip)`: clamps every trainable gradient
/// element of `model` to `[-clip, clip]`. `clip` must be finite and > 0.
pub fn clip_grad_value<M: TensorCollection<E, D>, E: Elem, D: Device<E>>(
    model: &M,
    grads: &mut Gradients<E, D>,
    clip: f64,
) -> Result<()> {
    check_clip(Some(Clip::Value(clip)))?;
    rewrite(model, grads, Op::Clamp(clip))
}

/// Validates an optional clipping setting.
pub(crate) fn check_clip(clip: Option<Clip>) -> Result<()> {
    match clip {
        None => Ok(()),
        Some(Clip::Norm(v)) => check(
            v.is_finite() && v > 0.0,
            "clip max_norm",
            v,
            "must be finite and > 0",
        ),
        Some(Clip::Value(v)) => check(
            v.is_finite() && v > 0.0,
            "clip value",
            v,
            "must be finite and > 0",
        ),
    }
}
