//! `ZeroPadding2d<PT, PB, PL, PR, HI, WI, HO, WO>`: pads each plane with
//! zeros, `(B, C, HI, WI) -> (B, C, HI + PT + PB, WI + PL + PR)`
//! (Keras `ZeroPadding2D`, PyTorch `nn.ZeroPad2d((PL, PR, PT, PB))`).

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

use super::pool::Dyn4;
use super::window::{window_sum, WindowPlan};
use crate::backend::Backend;
use crate::elem::Elem;

/// Plan copying each input position to its padded place; the border reads
/// the fill value (zero). `pad` is `[top, bottom, left, right]`.
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn padding_plan(hi: usize, wi: usize, pad: [usize; 4]) -> WindowPlan {
    let (ho, wo) = (hi + pad[0] + pad[1], wi + pad[2] + pad[3]);
    let fill = hi * wi;
    let index = (0..ho)
        .flat_map(|oy| {
            (0..wo).map(move |ox| {
                let inside =
                    (pad[0]..pad[0] + hi).contains(&oy) && (pad[2]..pad[2] + wi).contains(&ox);
                if inside {
                    (oy - pad[0]) * wi + (ox - pad[2])
                } else {
                    fill
                }
            })
        })
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

/// Zero padding with run-time sizes; `pad` is `[top, bottom, left, right]`.
pub fn zero_pad2d<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: Dyn4<E, D, T>,
    pad: [usize; 4],
) -> Result<Dyn4<E, D, T>, D::Err> {
    let (b, c, h, w) = *x.shape();
    let plan = padding_plan(h, w, pad);
    let out = (b, c, plan.out_h, plan.out_w);
    window_sum(x, &plan, out)
}

/// Zero padding `(B, C, HI, WI) -> (B, C, HO, WO)`, `HO = HI + PT + PB`,
/// `WO = WI + PL + PR`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ZeroPadding2d<
    const PT: usize,
    const PB: usize,
    const PL: usize,
    const PR: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
>;

impl<
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > ZeroPadding2d<PT, PB, PL, PR, HI, WI, HO, WO>
{
    pub const fn new() -> Self {
        Self
    }
}

impl<
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > ZeroSizedModule for ZeroPadding2d<PT, PB, PL, PR, HI, WI, HO, WO>
{
}
impl<
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
    > NonMutableModule for ZeroPadding2d<PT, PB, PL, PR, HI, WI, HO, WO>
{
}

impl<
        B: Dim,
        const C: usize,
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Backend<E>,
        T: Tape<E, D>,
    > Module<Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>>
    for ZeroPadding2d<PT, PB, PL, PR, HI, WI, HO, WO>
{
    type Output = Tensor<(B, Const<C>, Const<HO>, Const<WO>), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<C>, Const<HI>, Const<WI>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                matches!(sxima_shape::padded(HI as u64, PT as u64, PB as u64), Some(o) if o == HO as u64),
                "ZeroPadding2d: HO must equal HI + PT + PB"
            );
            assert!(
                matches!(sxima_shape::padded(WI as u64, PL as u64, PR as u64), Some(o) if o == WO as u64),
                "ZeroPadding2d: WO must equal WI + PL + PR"
            );
        };
        let out = (x.shape().0, Const::<C>, Const::<HO>, Const::<WO>);
        window_sum(x, &padding_plan(HI, WI, [PT, PB, PL, PR]), out)
    }
}
