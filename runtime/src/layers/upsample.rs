//! Upsampling by integer factors: `UpSampling2d` (nearest neighbour) and
//! `UpSampling2dBilinear`, `(B, C, HI, WI) -> (B, C, HI * SH, WI * SW)`,
//! matching PyTorch's `interpolate(scale_factor=(SH, SW), mode='nearest' |
//! 'bilinear', align_corners=ALIGN)` (Keras `UpSampling2D`).

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

use super::pool::Dyn4;
use super::window::{window_sum, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;

/// Nearest-neighbour plan: output `(oy, ox)` copies input `(oy / sh, ox / sw)`.
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn nearest_plan(hi: usize, wi: usize, sh: usize, sw: usize) -> WindowPlan {
    let (ho, wo) = (hi * sh, wi * sw);
    let index = (0..ho)
        .flat_map(|oy| (0..wo).map(move |ox| (oy / sh) * wi + ox / sw))
        .collect();
    WindowPlan {
        in_h: hi,
        in_w: wi,
        out_h: ho,
        out_w: wo,
        taps: 1,
        index,
        weights: None,
    }
}

/// Source position and the two neighbours with their weights along one axis
/// (PyTorch's `area_pixel_compute_source_index` and neighbour clamping).
fn linear_taps(dst: usize, len_in: usize, len_out: usize, align: bool) -> [(usize, f64); 2] {
    let src = if align {
        if len_out > 1 {
            dst as f64 * (len_in - 1) as f64 / (len_out - 1) as f64
        } else {
            0.0
        }
    } else {
        let scale = len_in as f64 / len_out as f64;
        (scale * (dst as f64 + 0.5) - 0.5).max(0.0)
    };
    let i0 = (src.floor() as usize).min(len_in - 1);
    let i1 = (i0 + 1).min(len_in - 1);
    let l1 = src - i0 as f64;
    [(i0, 1.0 - l1), (i1, l1)]
}

/// Bilinear plan for `(hi, wi) -> (hi * sh, wi * sw)`: four taps per output.
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn bilinear_plan(
    hi: usize,
    wi: usize,
    sh: usize,
    sw: usize,
    align_corners: bool,
) -> WindowPlan {
    let (ho, wo) = (hi * sh, wi * sw);
    let mut index = Vec::with_capacity(ho * wo * 4);
    let mut weights = Vec::with_capacity(ho * wo * 4);
    for oy in 0..ho {
        let ys = linear_taps(oy, hi, ho, align_corners);
        for ox in 0..wo {
            let xs = linear_taps(ox, wi, wo, align_corners);
            for (y, wy) in ys {
                for (x, wx) in xs {
                    index.push(y * wi + x);
                    weights.push(wy * wx);
                }
            }
        }
    }
    WindowPlan {
        in_h: hi,
        in_w: wi,
        out_h: ho,
        out_w: wo,
        taps: 4,
        index,
        weights: Some(weights),
    }
}

/// Nearest upsampling with run-time sizes: `(B, C, H, W) -> (B, C, H*SH, W*SW)`.
pub fn upsample_nearest2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    scale: (usize, usize),
) -> Result<Dyn4<E, D, T>, D::Err> {
    let (b, c, h, w) = *x.shape();
    window_sum(
        x,
        &nearest_plan(h, w, scale.0, scale.1),
        (b, c, h * scale.0, w * scale.1),
    )
}

/// Bilinear upsampling with run-time sizes: `(B, C, H, W) -> (B, C, H*SH, W*SW)`.
pub fn upsample_bilinear2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    scale: (usize, usize),
    align_corners: bool,
) -> Result<Dyn4<E, D, T>, D::Err> {
    let (b, c, h, w) = *x.shape();
    let plan = bilinear_plan(h, w, scale.0, scale.1, align_corners);
    window_sum(x, &plan, (b, c, h * scale.0, w * scale.1))
}

/// Nearest-neighbour upsampling `(B, C, HI, WI) -> (B, C, HO, WO)`,
/// `HO = HI * SH`, `WO = WI * SW` (each value repeated `SH x SW` times).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpSampling2d<
    const SH: usize,
    const SW: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
>;

/// Bilinear upsampling `(B, C, HI, WI) -> (B, C, HO, WO)`, `HO = HI * SH`,
/// `WO = WI * SW`; `ALIGN` is PyTorch's `align_corners` (Keras uses `false`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpSampling2dBilinear<
    const SH: usize,
    const SW: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    const ALIGN: bool,
>;

impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > UpSampling2d<SH, SW, HI, WI, HO, WO>
{
    pub const fn new() -> Self {
        Self
    }
}

impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        const ALIGN: bool,
    > UpSampling2dBilinear<SH, SW, HI, WI, HO, WO, ALIGN>
{
    pub const fn new() -> Self {
        Self
    }
}

impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > ZeroSizedModule for UpSampling2d<SH, SW, HI, WI, HO, WO>
{
}
impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > NonMutableModule for UpSampling2d<SH, SW, HI, WI, HO, WO>
{
}
impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        const ALIGN: bool,
    > ZeroSizedModule for UpSampling2dBilinear<SH, SW, HI, WI, HO, WO, ALIGN>
{
}
impl<
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        const ALIGN: bool,
    > NonMutableModule for UpSampling2dBilinear<SH, SW, HI, WI, HO, WO, ALIGN>
{
}

/// `true` when `HO = HI * SH` with positive sizes.
const fn scale_ok(hi: usize, s: usize, ho: usize) -> bool {
    matches!(sxima_shape::upsample_out(hi as u64, s as u64), Some(o) if o == ho as u64)
}

impl<
        B: Dim,
        const C: usize,
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Backend<E>,
        T: Tape<E, D>,
    > Module<Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>>
    for UpSampling2d<SH, SW, HI, WI, HO, WO>
{
    type Output = Tensor<(B, Const<C>, Const<HO>, Const<WO>), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        const {
            assert!(scale_ok(HI, SH, HO), "UpSampling2d: HO must equal HI * SH");
            assert!(scale_ok(WI, SW, WO), "UpSampling2d: WO must equal WI * SW");
        };
        let out = (x.shape().0, Const::<C>, Const::<HO>, Const::<WO>);
        window_sum(x, &nearest_plan(HI, WI, SH, SW), out)
    }
}

impl<
        B: Dim,
        const C: usize,
        const SH: usize,
        const SW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        const ALIGN: bool,
        E: Elem,
        D: Backend<E>,
        T: Tape<E, D>,
    > Module<Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>>
    for UpSampling2dBilinear<SH, SW, HI, WI, HO, WO, ALIGN>
{
    type Output = Tensor<(B, Const<C>, Const<HO>, Const<WO>), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                scale_ok(HI, SH, HO),
                "UpSampling2dBilinear: HO must equal HI * SH"
            );
            assert!(
                scale_ok(WI, SW, WO),
                "UpSampling2dBilinear: WO must equal WI * SW"
            );
        };
        let out = (x.shape().0, Const::<C>, Const::<HO>, Const::<WO>);
        window_sum(x, &bilinear_plan(HI, WI, SH, SW, ALIGN), out)
    }
}
