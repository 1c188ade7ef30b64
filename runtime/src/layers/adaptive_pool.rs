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
use crate::error::{DeviceResultExt, Error};

/// `[start, end)` of PyTorch's adaptive bin `i` of `n` over `len` positions.
fn bin(i: usize, n: usize, len: usize) -> (usize, usize) {
    (i * len / n, ((i + 1) * len).div_ceil(n))
}

/// Gather plan for adaptive pooling of `(hi, wi)` planes to `(ho, wo)`.
/// Bins of different sizes are padded to the largest with the fill index
/// (weight 0); with `average`, each real tap weighs `1 / bin size`.
/// Every size must be positive: the layers assert that at compile time and
/// the run-time functions check it first (a zero size gives an empty plan).
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn adaptive_plan(hi: usize, wi: usize, ho: usize, wo: usize, average: bool) -> WindowPlan {
    let max_bin = |len: usize, n: usize| {
        (0..n)
            .map(|i| bin(i, n, len))
            .map(|(a, b)| b - a)
            .max()
            .unwrap_or(0)
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

/// Checks the sizes of a run-time adaptive pooling: [`Error::Shape`] when an
/// input or output size is 0.
fn check_sizes(what: &str, (h, w): (usize, usize), out: (usize, usize)) -> crate::Result<()> {
    if h == 0 || w == 0 || out.0 == 0 || out.1 == 0 {
        return Err(Error::Shape {
            what: format!("{what} input (H, W) and output (HO, WO), all positive"),
            expected: vec![h.max(1), w.max(1), out.0.max(1), out.1.max(1)],
            got: vec![h, w, out.0, out.1],
        });
    }
    Ok(())
}

/// Adaptive average pooling with run-time sizes: `(B, C, H, W) -> (B, C, HO, WO)`;
/// [`Error::Shape`] when a size is 0.
pub fn adaptive_avg_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    out: (usize, usize),
) -> crate::Result<Dyn4<E, D, T>> {
    let (b, c, h, w) = *x.shape();
    check_sizes("adaptive_avg_pool2d", (h, w), out)?;
    window_sum(
        x,
        &adaptive_plan(h, w, out.0, out.1, true),
        (b, c, out.0, out.1),
    )
    .dev()
}

/// Adaptive max pooling with run-time sizes: `(B, C, H, W) -> (B, C, HO, WO)`;
/// [`Error::Shape`] when a size is 0.
pub fn adaptive_max_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    out: (usize, usize),
) -> crate::Result<Dyn4<E, D, T>> {
    let (b, c, h, w) = *x.shape();
    check_sizes("adaptive_max_pool2d", (h, w), out)?;
    window_max(
        x,
        &adaptive_plan(h, w, out.0, out.1, false),
        (b, c, out.0, out.1),
    )
    .dev()
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
