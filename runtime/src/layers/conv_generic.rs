//! The device-generic convolution at run-time sizes: the default that
//! [`Backend::conv_forward`](crate::backend::Backend::conv_forward) runs on
//! every device without a kernel of its own, built only from dfdx ops (so
//! autodiff and every device come for free):
//!
//! 1. `gather` the flattened input with a precomputed index tensor into the
//!    im2col matrix `[groups, k_per_group, batch * out_pixels]` (padding and
//!    inserted zeros point at element 0 and are masked to zero by a multiply);
//! 2. one batched, contiguous matmul `[groups, c_out/groups, k] x [groups, k, N]`
//!    (cuBLAS needs unit strides, which this layout keeps);
//! 3. reorder `[c_out, batch, pixels]` to `[batch, c_out, h_out, w_out]` (another
//!    `gather`) and add the bias.
//!
//! Every kernel this path launches on CUDA is precompiled in dfdx (no NVRTC at
//! run time): gather and its scatter-add backward, mul, cuBLAS matmul, add.

use dfdx::prelude::*;

use super::conv_geom::ConvGeom;
use crate::elem::Elem;

/// A 4-D tensor shape with run-time sizes.
pub type Dyn4 = (usize, usize, usize, usize);

/// The device-generic convolution (same contract as
/// [`super::im2col::conv_forward`]), built
/// from `gather`, `mul`, a batched `matmul`, `permute`/`reshape` and a broadcast add.
pub fn conv_forward_generic<E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<(usize,), E, D, T>,
    w: Tensor<(usize, usize), E, D, T>,
    bias: Option<Tensor<(usize,), E, D, T>>,
    geom: &ConvGeom,
) -> Result<Tensor<Dyn4, E, D, T>, D::Err> {
    check_operands(
        x.shape().0,
        *w.shape(),
        bias.as_ref().map(|b| b.shape().0),
        geom,
    );
    let g = geom.groups;
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let p = geom.out_pixels();
    let n = geom.batch * p;
    let dev = x.device().clone();

    let (idx, mask) = gather_index(geom);
    let len = idx.len();
    let idx = dev.try_tensor_from_vec(idx, (len,))?;
    let mut cols = x.try_gather(idx)?;
    if let Some(mask) = mask {
        let mask: Vec<E> = mask
            .into_iter()
            .map(|m| if m { E::one() } else { E::zero() })
            .collect();
        cols = cols.try_mul(dev.try_tensor_from_vec(mask, (len,))?)?;
    }
    let cols = cols.try_reshape_like(&(g, kg, n))?;
    let w = w.try_reshape_like(&(g, cog, kg))?;
    let out = w.try_matmul(cols)?; // [g, cog, batch * p] = [c_out, batch, p]
    let out = out.try_reshape_like(&(geom.output_len(),))?;
    // [c_out, batch, p] -> [batch, c_out, p] by a gather, not permute + reshape:
    // reshaping a permuted tensor JIT-compiles a kernel (NVRTC) on CUDA.
    let out = if geom.batch > 1 {
        let order = dev.try_tensor_from_vec(batch_major_index(geom), (geom.output_len(),))?;
        out.try_gather(order)?
    } else {
        out
    };
    let out = out.try_reshape_like(&(geom.batch, geom.c_out, geom.h_out, geom.w_out))?;
    match bias {
        None => Ok(out),
        Some(b) => {
            let shape = *out.shape();
            out.try_add(b.try_broadcast_like::<Dyn4, Axes3<0, 2, 3>>(&shape)?)
        }
    }
}

/// Debug-checks that operand sizes agree with `geom` (they do by
/// construction: the layers derive both from the same const sizes).
pub(crate) fn check_operands(
    x_len: usize,
    w_shape: (usize, usize),
    bias_len: Option<usize>,
    geom: &ConvGeom,
) {
    geom.assert_valid();
    debug_assert_eq!(x_len, geom.input_len(), "conv: input length vs {geom:?}");
    debug_assert_eq!(
        w_shape,
        (geom.c_out, geom.k_per_group()),
        "conv: weight shape vs {geom:?}"
    );
    if let Some(b) = bias_len {
        debug_assert_eq!(b, geom.c_out, "conv: bias length vs {geom:?}");
    }
}

/// For each element of `[batch, c_out, p]` (row-major), its offset in
/// `[c_out, batch, p]`.
fn batch_major_index(geom: &ConvGeom) -> Vec<usize> {
    let p = geom.out_pixels();
    let mut idx = Vec::with_capacity(geom.output_len());
    for b in 0..geom.batch {
        for o in 0..geom.c_out {
            let base = (o * geom.batch + b) * p;
            idx.extend(base..base + p);
        }
    }
    idx
}

/// The gather index of the im2col matrix in the order
/// `[group, (c, i, j), (batch, oy, ox)]`, as flat input offsets, and — when some
/// taps read padding or inserted zeros — a mask that is `false` there (those
/// entries point at offset 0).
pub fn gather_index(geom: &ConvGeom) -> (Vec<usize>, Option<Vec<bool>>) {
    let (kh, kw) = geom.kernel;
    let cig = geom.c_in_per_group();
    let plane = geom.h_in * geom.w_in;
    let len = geom.groups * geom.k_per_group() * geom.batch * geom.out_pixels();
    let mut idx = Vec::with_capacity(len);
    let mut mask = Vec::with_capacity(len);
    for g in 0..geom.groups {
        for c in 0..cig {
            for i in 0..kh {
                for j in 0..kw {
                    for b in 0..geom.batch {
                        let base = (b * geom.c_in + g * cig + c) * plane;
                        for oy in 0..geom.h_out {
                            let sy = geom.src_row(oy, i);
                            for ox in 0..geom.w_out {
                                match (sy, geom.src_col(ox, j)) {
                                    (Some(sy), Some(sx)) => {
                                        idx.push(base + sy * geom.w_in + sx);
                                        mask.push(true);
                                    }
                                    _ => {
                                        idx.push(0);
                                        mask.push(false);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let mask = mask.iter().any(|m| !m).then_some(mask);
    (idx, mask)
}
