//! Window gather: the device-generic core of pooling, zero padding and
//! upsampling.
//!
//! Every one of those layers maps each `(H, W)` plane of the input to an
//! `(HO, WO)` plane of the output the same way for every batch item and
//! channel: output position `p` looks at `taps` input positions
//! `index[p * taps + t]` (or at a *fill* value: `-inf` for max, `0` for
//! sums, when the position is padding) and either takes their maximum
//! ([`window_max`]) or their weighted sum ([`window_sum`]; weights default to
//! one). A [`WindowPlan`] holds that table; the layers build it from their
//! sizes (`pool`, `adaptive_pool`, `upsample`, `zero_padding`).
//!
//! Which code runs is the device's choice ([`Backend`]): the device-generic
//! composition of dfdx ops ([`super::window_generic`]) by default, a
//! hand-written kernel with its own backward on `Cpu` (`kernels::window_cpu`);
//! tests check both paths agree.

use dfdx::prelude::*;

// The generic paths, for the tests that compare each kernel against them.
#[cfg_attr(not(feature = "internals-for-tests"), allow(unused_imports))]
pub use super::window_generic::{window_max_generic, window_sum_generic, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;

/// `y[.., p] = max_t x[.., index[p, t]]` over the last two axes of `x`
/// (padding reads `-inf`). `x`'s last two dims must be `(in_h, in_w)`; the
/// leading ones are flattened and restored as `out_shape`'s leading dims.
pub fn window_max<S: Shape, S2: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    D::window_max(x, plan, out_shape)
}

/// `y[.., p] = sum_t w[p, t] * x[.., index[p, t]]` over the last two axes of
/// `x` (padding reads `0`). Shapes as for [`window_max`].
pub fn window_sum<S: Shape, S2: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    D::window_sum(x, plan, out_shape)
}

