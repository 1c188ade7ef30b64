//! Global pooling: `GlobalAvgPool` and `GlobalMaxPool`,
//! `(B, C, H, W) -> (B, C)` (Keras `GlobalAveragePooling2D` /
//! `GlobalMaxPooling2D`; PyTorch `adaptive_*_pool2d(x, 1)` then flatten).

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

use super::window::{window_max, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;

/// Mean over each channel's plane: `(B, C, H, W) -> (B, C)`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GlobalAvgPool;

/// Maximum over each channel's plane: `(B, C, H, W) -> (B, C)`; the gradient
/// goes to the first maximum (PyTorch) on the CPU kernel, to every tied
/// maximum on the generic path.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GlobalMaxPool;

impl ZeroSizedModule for GlobalAvgPool {}
impl NonMutableModule for GlobalAvgPool {}
impl ZeroSizedModule for GlobalMaxPool {}
impl NonMutableModule for GlobalMaxPool {}

impl<B: Dim, C: Dim, H: Dim, W: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(B, C, H, W), E, D, T>> for GlobalAvgPool
{
    type Output = Tensor<(B, C), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        x.try_mean::<(B, C), Axes2<2, 3>>()
    }
}

impl<B: Dim, C: Dim, H: Dim, W: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(B, C, H, W), E, D, T>> for GlobalMaxPool
{
    type Output = Tensor<(B, C), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        let (b, c, h, w) = *x.shape();
        window_max(x, &global_plan(h.size(), w.size()), (b, c))
    }
}

/// One window covering the whole `(h, w)` plane.
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn global_plan(h: usize, w: usize) -> WindowPlan {
    WindowPlan {
        in_h: h,
        in_w: w,
        out_h: 1,
        out_w: 1,
        taps: h * w,
        index: (0..h * w).collect(),
        weights: None,
    }
}
