//! Sliding-window pooling: `MaxPool2d` and `AvgPool2d`, plus the run-time
//! sized functions [`max_pool2d`] / [`avg_pool2d`] behind them.
//!
//! Both map `(B, C, HI, WI) -> (B, C, HO, WO)` with a `KH x KW` window,
//! stride `SH x SW` and padding `PT` (top), `PB` (bottom), `PL` (left), `PR`
//! (right), `HO = (HI + PT + PB - KH) / SH + 1` (floor, PyTorch's
//! `ceil_mode=False`), likewise `WO`. With `CEIL = true` (PyTorch's
//! `ceil_mode=True`) the division rounds up, a last window that would start
//! in the bottom/right padding is dropped, and windows may reach past the
//! padded input (those positions never count). Max pooling pads with `-inf`; average
//! pooling pads with zeros and divides by the window size
//! (`COUNT_PAD = true`, PyTorch's default `count_include_pad=True`) or by the
//! number of real input positions in the window (`COUNT_PAD = false`).
//!
//! The macro computes `HO`/`WO` and writes them; each layer re-checks the
//! arithmetic in a `const` assertion, so a hand-written wrong size does not
//! build.

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

use super::window::{window_max, window_sum, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error};

/// Run-time pooling geometry for one `(H, W)` plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dGeom {
    /// Input plane `(H, W)`.
    pub input: (usize, usize),
    /// Window `(KH, KW)`.
    pub kernel: (usize, usize),
    /// Stride `(SH, SW)`.
    pub stride: (usize, usize),
    /// Padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    /// PyTorch's `ceil_mode`: the output size rounds up (see
    /// [`sxima_shape::window_out`]).
    pub ceil_mode: bool,
}

impl Pool2dGeom {
    /// Checks that the window and stride are positive and the window fits the
    /// padded input.
    pub fn new(
        input: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: [usize; 4],
    ) -> Result<Self, Error> {
        let g = Self {
            input,
            kernel,
            stride,
            pad,
            ceil_mode: false,
        };
        if kernel.0 == 0 || kernel.1 == 0 || stride.0 == 0 || stride.1 == 0 {
            return Err(Error::config(
                "pooling window and stride",
                format!("{kernel:?}, {stride:?}"),
                "must be positive",
            ));
        }
        if input.0 + pad[0] + pad[1] < kernel.0 || input.1 + pad[2] + pad[3] < kernel.1 {
            return Err(Error::Shape {
                what: format!("pooling window {kernel:?} with padding {pad:?}"),
                expected: vec![kernel.0, kernel.1],
                got: vec![input.0 + pad[0] + pad[1], input.1 + pad[2] + pad[3]],
            });
        }
        Ok(g)
    }

    /// The same geometry with PyTorch's `ceil_mode` on or off.
    pub fn with_ceil_mode(self, ceil_mode: bool) -> Self {
        Self { ceil_mode, ..self }
    }

    /// Output plane `(HO, WO)`.
    pub fn output(&self) -> (usize, usize) {
        let axis = |input: usize, k: usize, s: usize, before: usize, after: usize| {
            // `new` checked that the window fits the padded input.
            sxima_shape::window_out(
                input as u64,
                k as u64,
                s as u64,
                1,
                before as u64,
                after as u64,
                self.ceil_mode,
            )
            .map_or(0, |o| o as usize)
        };
        (
            axis(
                self.input.0,
                self.kernel.0,
                self.stride.0,
                self.pad[0],
                self.pad[1],
            ),
            axis(
                self.input.1,
                self.kernel.1,
                self.stride.1,
                self.pad[2],
                self.pad[3],
            ),
        )
    }

    /// Visits every window: `(output index, window row start, window col
    /// start)`, starts relative to the unpadded input (may be negative).
    fn windows(&self) -> impl Iterator<Item = (isize, isize)> + '_ {
        let (ho, wo) = self.output();
        (0..ho).flat_map(move |oy| {
            (0..wo).map(move |ox| {
                (
                    (oy * self.stride.0) as isize - self.pad[0] as isize,
                    (ox * self.stride.1) as isize - self.pad[2] as isize,
                )
            })
        })
    }

    /// The gather plan of max pooling (one tap per window position).
    #[doc(hidden)] // internal: a plan for the window/conv core
    pub fn max_plan(&self) -> WindowPlan {
        let (h, w) = self.input;
        let (kh, kw) = self.kernel;
        let (ho, wo) = self.output();
        let fill = h * w;
        let mut index = Vec::with_capacity(ho * wo * kh * kw);
        for (y0, x0) in self.windows() {
            for ky in 0..kh as isize {
                for kx in 0..kw as isize {
                    let (y, x) = (y0 + ky, x0 + kx);
                    index.push(
                        if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                            y as usize * w + x as usize
                        } else {
                            fill
                        },
                    );
                }
            }
        }
        WindowPlan {
            in_h: h,
            in_w: w,
            out_h: ho,
            out_w: wo,
            taps: kh * kw,
            index,
            weights: None,
        }
    }

    /// The gather plan of average pooling: max pooling's taps with weight
    /// `1 / divisor`, the divisor as in PyTorch.
    #[doc(hidden)] // internal: a plan for the window/conv core
    pub fn avg_plan(&self, count_include_pad: bool) -> WindowPlan {
        let mut plan = self.max_plan();
        let (h, w) = self.input;
        let (kh, kw) = self.kernel;
        let taps = kh * kw;
        let fill = plan.fill();
        let mut weights = Vec::with_capacity(plan.index.len());
        for ((y0, x0), win) in self.windows().zip(plan.index.chunks_exact(taps)) {
            let divisor = if count_include_pad {
                // Window clipped to the padded input (clips only in ceil_mode).
                let y1 = (y0 + kh as isize).min((h + self.pad[1]) as isize);
                let x1 = (x0 + kw as isize).min((w + self.pad[3]) as isize);
                ((y1 - y0) * (x1 - x0)) as usize
            } else {
                win.iter().filter(|&&i| i != fill).count()
            };
            let wt = if divisor == 0 {
                0.0
            } else {
                1.0 / divisor as f64
            };
            weights.resize(weights.len() + taps, wt);
        }
        plan.weights = Some(weights);
        plan
    }
}

/// 4-d tensor with run-time sizes, the input and output of the run-time
/// sized functions.
pub type Dyn4<E, D, T> = Tensor<(usize, usize, usize, usize), E, D, T>;

/// `(B, C)` of `x`, or [`Error::Shape`] when its `(H, W)` is not `geom.input`.
fn check_input<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    what: &str,
    x: &Dyn4<E, D, T>,
    geom: &Pool2dGeom,
) -> crate::Result<(usize, usize)> {
    let (b, c, h, w) = *x.shape();
    if (h, w) != geom.input {
        return Err(Error::Shape {
            what: format!("{what} input (H, W)"),
            expected: vec![geom.input.0, geom.input.1],
            got: vec![h, w],
        });
    }
    Ok((b, c))
}

/// Max pooling of `(B, C, H, W)` with run-time geometry: `(B, C, HO, WO)`.
/// [`Error::Shape`] if the input's `(H, W)` is not `geom.input`.
pub fn max_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    geom: &Pool2dGeom,
) -> crate::Result<Dyn4<E, D, T>> {
    let (b, c) = check_input("max_pool2d", &x, geom)?;
    let (ho, wo) = geom.output();
    window_max(x, &geom.max_plan(), (b, c, ho, wo)).dev()
}

/// Average pooling of `(B, C, H, W)` with run-time geometry: `(B, C, HO, WO)`.
/// [`Error::Shape`] if the input's `(H, W)` is not `geom.input`.
pub fn avg_pool2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    geom: &Pool2dGeom,
    count_include_pad: bool,
) -> crate::Result<Dyn4<E, D, T>> {
    let (b, c) = check_input("avg_pool2d", &x, geom)?;
    let (ho, wo) = geom.output();
    window_sum(x, &geom.avg_plan(count_include_pad), (b, c, ho, wo)).dev()
}

/// `true` when the const sizes of a pooling layer are consistent.
const fn pool_dims_ok(
    hi: usize,
    k: usize,
    s: usize,
    p0: usize,
    p1: usize,
    ho: usize,
    ceil: bool,
) -> bool {
    matches!(
        sxima_shape::window_out(hi as u64, k as u64, s as u64, 1, p0 as u64, p1 as u64, ceil),
        Ok(o) if o == ho as u64
    )
}

macro_rules! pool_layer {
    (
        $(#[$doc:meta])* $name:ident [$($extra:tt)*] [$($extra_args:tt)*],
        |$geom:ident, $x:ident, $out:ident| $body:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct $name<
            const KH: usize, const KW: usize, const SH: usize, const SW: usize,
            const PT: usize, const PB: usize, const PL: usize, const PR: usize,
            const HI: usize, const WI: usize, const HO: usize, const WO: usize
            $($extra)*, const CEIL: bool = false
        >;

        impl<
            const KH: usize, const KW: usize, const SH: usize, const SW: usize,
            const PT: usize, const PB: usize, const PL: usize, const PR: usize,
            const HI: usize, const WI: usize, const HO: usize, const WO: usize
            $($extra)*, const CEIL: bool
        > $name<KH, KW, SH, SW, PT, PB, PL, PR, HI, WI, HO, WO $($extra_args)*, CEIL> {
            pub const fn new() -> Self {
                Self
            }

            /// The layer's geometry as run-time values.
            pub fn geometry() -> Pool2dGeom {
                Pool2dGeom {
                    input: (HI, WI),
                    kernel: (KH, KW),
                    stride: (SH, SW),
                    pad: [PT, PB, PL, PR],
                    ceil_mode: CEIL,
                }
            }
        }

        impl<
            const KH: usize, const KW: usize, const SH: usize, const SW: usize,
            const PT: usize, const PB: usize, const PL: usize, const PR: usize,
            const HI: usize, const WI: usize, const HO: usize, const WO: usize
            $($extra)*, const CEIL: bool
        > ZeroSizedModule for $name<KH, KW, SH, SW, PT, PB, PL, PR, HI, WI, HO, WO $($extra_args)*, CEIL> {}

        impl<
            const KH: usize, const KW: usize, const SH: usize, const SW: usize,
            const PT: usize, const PB: usize, const PL: usize, const PR: usize,
            const HI: usize, const WI: usize, const HO: usize, const WO: usize
            $($extra)*, const CEIL: bool
        > NonMutableModule for $name<KH, KW, SH, SW, PT, PB, PL, PR, HI, WI, HO, WO $($extra_args)*, CEIL> {}

        impl<
            B: Dim, const C: usize, E: Elem, D: Backend<E>, T: Tape<E, D>,
            const KH: usize, const KW: usize, const SH: usize, const SW: usize,
            const PT: usize, const PB: usize, const PL: usize, const PR: usize,
            const HI: usize, const WI: usize, const HO: usize, const WO: usize
            $($extra)*, const CEIL: bool
        > Module<Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>>
            for $name<KH, KW, SH, SW, PT, PB, PL, PR, HI, WI, HO, WO $($extra_args)*, CEIL>
        {
            type Output = Tensor<(B, Const<C>, Const<HO>, Const<WO>), E, D, T>;
            type Error = D::Err;

            fn try_forward(
                &self,
                $x: Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>,
            ) -> Result<Self::Output, D::Err> {
                const {
                    assert!(
                        pool_dims_ok(HI, KH, SH, PT, PB, HO, CEIL),
                        "pooling: HO must equal (HI + PT + PB - KH) / SH + 1 (rounded up with CEIL)"
                    );
                    assert!(
                        pool_dims_ok(WI, KW, SW, PL, PR, WO, CEIL),
                        "pooling: WO must equal (WI + PL + PR - KW) / SW + 1 (rounded up with CEIL)"
                    );
                };
                let $geom = Self::geometry();
                let $out = ($x.shape().0, Const::<C>, Const::<HO>, Const::<WO>);
                $body
            }
        }
    };
}

pool_layer!(
    /// Max pooling `(B, C, HI, WI) -> (B, C, HO, WO)`, padding with `-inf`
    /// (PyTorch `nn.MaxPool2d(kernel, stride, padding, ceil_mode = CEIL)`;
    /// the gradient goes to the first maximum of each window).
    ///
    /// ```
    /// use sxima_runtime::dfdx::prelude::*;
    /// use sxima_runtime::layers::MaxPool2d;
    /// let dev = Cpu::default();
    /// let x: Tensor<(usize, Const<32>, Const<24>, Const<24>), f32, _> =
    ///     dev.zeros_like(&(64, Const, Const, Const));
    /// let y = MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 24, 24, 12, 12>::new().forward(x);
    /// assert_eq!(y.shape().0, 64);
    /// ```
    ///
    /// A wrong output size does not build:
    ///
    /// ```compile_fail
    /// use sxima_runtime::dfdx::prelude::*;
    /// use sxima_runtime::layers::MaxPool2d;
    /// let dev = Cpu::default();
    /// let x: Tensor<(usize, Const<32>, Const<24>, Const<24>), f32, _> =
    ///     dev.zeros_like(&(64, Const, Const, Const));
    /// let y = MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 24, 24, 13, 12>::new().forward(x);
    /// ```
    MaxPool2d [] [],
    |geom, x, out| window_max(x, &geom.max_plan(), out)
);

pool_layer!(
    /// Average pooling `(B, C, HI, WI) -> (B, C, HO, WO)`, zero padding;
    /// `COUNT_PAD` is PyTorch's `count_include_pad` (default `true`), `CEIL`
    /// its `ceil_mode` (default `false`).
    AvgPool2d [, const COUNT_PAD: bool] [, COUNT_PAD],
    |geom, x, out| window_sum(x, &geom.avg_plan(COUNT_PAD), out)
);
