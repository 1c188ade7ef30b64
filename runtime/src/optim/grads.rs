//! Access to a model's gradients that dfdx 0.13 does not offer publicly:
//! whether a parameter has a gradient ([`has_grad`]), replacing a gradient
//! ([`set_grad`]), and the one walk that computes per-parameter gradient
//! norms ([`sq_norms`]), used by gradient clipping, the optimizers' in-step
//! clipping and `fit`'s gradient monitoring alike.

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use dfdx::optim::{Sgd as DfdxSgd, UnusedTensors};
use dfdx::prelude::*;

use crate::backend::Backend;
use crate::elem::{to_f64, Elem};
use crate::error::{DeviceResultExt, Error, Result};

/// Whether `grads` holds a gradient for `p` (`opts` are `p`'s options from
/// the visitor; consumed because dfdx's options are neither `Clone` nor
/// constructible for run-time shapes).
///
/// dfdx 0.13 has no public membership test on `Gradients`; its own SGD
/// visitor reports a tensor without a gradient as unused, so we run it, with
/// a learning rate of 0, on a throw-away copy of the parameter (same id).
pub(crate) fn has_grad<S: Shape, E: Elem, D: Device<E>>(
    opts: TensorOptions<S, E, D>,
    p: &Tensor<S, E, D>,
    grads: &Gradients<E, D>,
) -> Result<bool> {
    let mut probe = p.clone();
    let mut sgd = DfdxSgd::<(), E, D>::new(
        &(),
        SgdConfig {
            lr: 0.0,
            momentum: None,
            weight_decay: None,
        },
    );
    let mut visitor = (&mut sgd, grads, UnusedTensors::default());
    TensorVisitor::visit(&mut visitor, opts, &mut probe).dev()?;
    Ok(visitor.2.is_empty())
}

/// Replaces the gradient of `p` in `grads` by `value` (same shape), on any
/// device: dfdx exposes no public write access to a gradient buffer, so the
/// buffer is produced by back-propagating `sum(p * value)` (whose gradient
/// with respect to `p` is exactly `value`) and swapped in.
pub(crate) fn set_grad<S: Shape, E: Elem, D: Device<E>>(
    grads: &mut Gradients<E, D>,
    p: &Tensor<S, E, D>,
    value: Tensor<S, E, D>,
) -> Result<()> {
    let traced = p.retaped::<OwnedTape<E, D>>();
    let mut tmp = traced
        .try_mul(value)
        .dev()?
        .try_sum::<Rank0, _>()
        .dev()?
        .try_backward()
        .dev()?;
    std::mem::swap(
        grads.get_or_alloc_mut(p).dev()?,
        tmp.get_or_alloc_mut(p).dev()?,
    );
    Ok(())
}

/// How the norm walk may use the gradients.
pub(crate) enum GradsRef<'a, E: Elem, D: Device<E>> {
    /// Read-only (an optimizer step, `grad_norms`): parameters without a
    /// gradient are skipped, as PyTorch's `clip_grad_norm_` skips `None`.
    Shared(&'a Gradients<E, D>),
    /// Exclusive (`fit`'s monitoring): every trainable parameter is reported;
    /// one the tape never reached gets a zero gradient allocated (norm 0).
    /// Lets the device read its buffers in place
    /// ([`Backend::grad_sq_norm`]: on `Cpu`, no tensor op and no copy).
    Exclusive(&'a mut Gradients<E, D>),
}

/// The walk: squared L2 norm of each trainable parameter's gradient.
struct SqNorms<'a, E: Elem, D: Backend<E>> {
    grads: GradsRef<'a, E, D>,
    out: Vec<(String, f64)>,
}

impl<E: Elem, D: Backend<E>> TensorVisitor<E, D> for SqNorms<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = Error;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (p, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let sq = match &mut self.grads {
            GradsRef::Shared(grads) => {
                if !has_grad(opts, p, grads)? {
                    return Ok(None);
                }
                let sq: Tensor<Rank0, E, D> = grads.get(p).try_square().dev()?.try_sum().dev()?;
                to_f64(sq.as_vec()[0])
            }
            GradsRef::Exclusive(grads) => D::grad_sq_norm(grads, p).dev()?,
        };
        self.out.push((name, sq));
        Ok(None)
    }
}

/// Squared L2 norm of each trainable parameter's gradient, in visit order,
/// keyed by parameter path (`"fc1.weight"`); frozen tensors are skipped, and
/// parameters without a gradient as [`GradsRef`] says.
pub(crate) fn sq_norms<M: TensorCollection<E, D>, E: Elem, D: Backend<E>>(
    model: &M,
    grads: GradsRef<'_, E, D>,
) -> Result<Vec<(String, f64)>> {
    let mut v = SqNorms {
        grads,
        out: Vec::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut v,
    })?;
    Ok(v.out)
}
