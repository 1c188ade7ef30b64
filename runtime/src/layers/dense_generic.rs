//! The device-generic dense product, `y = x W^T (+ b)` composed of dfdx ops
//! (matmul and a broadcast add): [`Backend::dense_forward`]'s default, and
//! what the `Cpu` kernel (`kernels::dense_cpu`) is tested against.
//!
//! [`Backend::dense_forward`]: crate::backend::Backend::dense_forward

use dfdx::prelude::*;

use crate::elem::Elem;

/// A matrix of rows at run-time sizes, `[rows, features]`: the dense
/// product's input and output (and its weight `[O, I]`).
pub type Rows<E, D, T> = Tensor<(usize, usize), E, D, T>;

/// `x [rows, I]`, `w [O, I]`, `bias [O]` → `x w^T (+ bias)`, `[rows, O]`.
///
/// The inner sizes must agree (`x.shape().1 == w.shape().1`, bias length
/// `O`): the layers guarantee it by their types; a mismatch is a bug of the
/// caller and panics in dfdx's matmul.
pub fn dense_forward_generic<E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Rows<E, D, T>,
    w: Rows<E, D, T>,
    bias: Option<Tensor<(usize,), E, D, T>>,
) -> Result<Rows<E, D, T>, D::Err> {
    let y = x.try_matmul(w.try_permute::<_, Axes2<1, 0>>()?)?;
    match bias {
        Some(b) => {
            let shape = *y.shape();
            y.try_add(b.try_broadcast_like::<_, Axis<0>>(&shape)?)
        }
        None => Ok(y),
    }
}
