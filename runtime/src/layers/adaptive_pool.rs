//! Adaptive pooling: `AdaptiveAvgPool2d<HI, WI, HO, WO>` and
//! `AdaptiveMaxPool2d<HI, WI, HO, WO>`, `(B, C, HI, WI) -> (B, C, HO, WO)`
//! for any sizes, with PyTorch's bins: output row `i` pools input rows
//! `floor(i * HI / HO) .. ceil((i + 1) * HI / HO)` (columns likewise).

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

use super::pool::Dyn4;
use super::window::{window_max, window_sum, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;

/// `[start, end)` of PyTorch's adaptive bin `i` of `n` over `len` positions.
fn bin(i: usize, n: usize, len: usize) -> (usize, usize) {
    (i * len / n, ((i + 1) * len).div_ceil(n))
}

/// Gather plan for adaptive pooling of `(hi, wi)` planes to `(ho, wo)`.
/// Bins of different sizes are padded to the largest with the fill index
/// (weight 0); with `average`, each real tap weighs `1 / bin size`.
///
/// # Panics
/// If any size is zero.
pub fn adaptive_plan(hi: usize, wi: usize, ho: usize, wo: usize, average: bool) -> WindowPlan {
    assert!(
        hi > 0 && wi > 0 && ho > 0 && wo > 0,
        "adaptive pooling sizes must be positive"
    );
    let max_bin = |len: usize, n: usize| {
        (0..n)
            .map(|i| bin(i, n, len))
            .map(|(a, b)| b - a)
            .max()
            .unwrap()
    };
    let taps = max_bin(hi, ho) * max_bin(wi, wo);
    let fill = hi * wi;
    let mut index = Vec::with_capacity(ho * wo * taps);
    let mut weights = Vec::with_capacity(ho * wo * taps);
    for oy in 0..ho {
        let (y0, y1) = bin(oy, ho, hi);
        for ox in 0..wo {
            let (x0, x1) = bin(ox, wo, wi);
            let count = (y1 - y0) * (x1 - x0);
            for y in y0..y1 {
                for x in x0..x1 {
                    index.push(y * wi + x);
                    weights.push(1.0 / count as f64);
                }
            }
            for _ in count..taps {
                index.push(fill);
                weights.push(0.0);
            }
        }
    }
    WindowPlan {
        in_h: hi,
        in_w: wi,
        out_h: ho,
        out_w: wo,
        taps,
        index,
        weights: average.then_some(weights),
    }
}

/// Adaptive average pooling with run-time sizes: `(B, C, H, W) -> (B, C, HO, WO)`.
pub fn adaptive_avg_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    out: (usize, usize),
) -> Result<Dyn4<E, D, T>, D::Err> {
    let (b, c, h, w) = *x.shape();
    window_sum(
        x,
        &adaptive_plan(h, w, out.0, out.1, true),
        (b, c, out.0, out.1),
    )
}

/// Adaptive max pooling with run-time sizes: `(B, C, H, W) -> (B, C, HO, WO)`.
pub fn adaptive_max_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    out: (usize, usize),
) -> Result<Dyn4<E, D, T>, D::Err> {
    let (b, c, h, w) = *x.shape();
    window_max(
        x,
        &adaptive_plan(h, w, out.0, out.1, false),
        (b, c, out.0, out.1),
    )
}

macro_rules! adaptive_layer {
    ($(#[$doc:meta])* $name:ident, $average:expr, $op:ident) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct $name<const HI: usize, const WI: usize, const HO: usize, const WO: usize>;

        impl<const HI: usize, const WI: usize, const HO: usize, const WO: usize>
            $name<HI, WI, HO, WO>
        {
            pub const fn new() -> Self {
                Self
            }
        }

        impl<const HI: usize, const WI: usize, const HO: usize, const WO: usize> ZeroSizedModule
            for $name<HI, WI, HO, WO>
        {
        }
        impl<const HI: usize, const WI: usize, const HO: usize, const WO: usize> NonMutableModule
            for $name<HI, WI, HO, WO>
        {
        }

        impl<
                B: Dim,
                const C: usize,
                const HI: usize,
                const WI: usize,
                const HO: usize,
                const WO: usize,
                E: Elem,
                D: Backend<E>,
                T: Tape<E, D>,
            > Module<Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>> for $name<HI, WI, HO, WO>
        {
            type Output = Tensor<(B, Const<C>, Const<HO>, Const<WO>), E, D, T>;
            type Error = D::Err;

            fn try_forward(
                &self,
                x: Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>,
            ) -> Result<Self::Output, D::Err> {
                const {
                    assert!(
                        HI > 0 && WI > 0 && HO > 0 && WO > 0,
                        "adaptive pooling: every size must be positive"
                    )
                };
                let out = (x.shape().0, Const::<C>, Const::<HO>, Const::<WO>);
                $op(x, &adaptive_plan(HI, WI, HO, WO, $average), out)
            }
        }
    };
}

adaptive_layer!(
    /// Adaptive average pooling `(B, C, HI, WI) -> (B, C, HO, WO)`
    /// (PyTorch `nn.AdaptiveAvgPool2d((HO, WO))`).
    AdaptiveAvgPool2d,
    true,
    window_sum
);
adaptive_layer!(
    /// Adaptive max pooling `(B, C, HI, WI) -> (B, C, HO, WO)`
    /// (PyTorch `nn.AdaptiveMaxPool2d((HO, WO))`).
    AdaptiveMaxPool2d,
    false,
    window_max
);
