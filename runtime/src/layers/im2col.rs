//! The convolution core at run-time sizes, as `Conv2d` and `ConvTranspose2d`
//! call it: [`conv_forward`] runs the device's choice of kernel
//! ([`Backend::conv_forward`]): the device-generic gather + matmul
//! composition ([`super::conv_generic`]) by default, the im2col + gemm kernel
//! (`kernels::conv_cpu`) on `Cpu`.

use dfdx::prelude::*;

// The generic paths, for the tests that compare each kernel against them.
#[cfg_attr(not(feature = "internals-for-tests"), allow(unused_imports))]
pub use super::conv_generic::{conv_forward_generic, gather_index, Dyn4};
use super::conv_geom::ConvGeom;
use crate::backend::Backend;
use crate::elem::Elem;

/// Convolution at run-time sizes.
///
/// * `x`: the input, flattened row-major `[batch * c_in * h_in * w_in]`;
/// * `w`: the weight as a matrix `[c_out, c_in / groups * kh * kw]`
///   (PyTorch's `[c_out, c_in / groups, kh, kw]` flattened per output channel);
/// * `bias`: `[c_out]` or `None`;
///
/// returns `[batch, c_out, h_out, w_out]` (contiguous). Gradients flow to all
/// three inputs through the tape `T`.
pub fn conv_forward<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Tensor<(usize,), E, D, T>,
    w: Tensor<(usize, usize), E, D, T>,
    bias: Option<Tensor<(usize,), E, D, T>>,
    geom: &ConvGeom,
) -> Result<Tensor<Dyn4, E, D, T>, D::Err> {
    D::conv_forward(x, w, bias, geom)
}

