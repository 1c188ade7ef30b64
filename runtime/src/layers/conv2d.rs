//! `Conv2d` and `Conv2dNoBias`: 2-D convolution (PyTorch `nn.Conv2d`
//! semantics: cross-correlation, NCHW) with stride, dilation, groups and
//! asymmetric zero padding, on any dfdx device.
//!
//! Every size is a const parameter, written by the `model!` macro:
//!
//! | param | meaning |
//! |---|---|
//! | `CI`, `CO` | input / output channels |
//! | `KH`, `KW` | kernel height / width |
//! | `SH`, `SW` | stride |
//! | `DH`, `DW` | dilation |
//! | `G` | groups (`CI % G == 0`, `CO % G == 0`) |
//! | `CIG` | input channels per group, `CI / G` (stable Rust cannot write `CI / G` in a type) |
//! | `PT`, `PB`, `PL`, `PR` | zero padding top, bottom, left, right |
//! | `HI`, `WI` | input height / width |
//! | `HO`, `WO` | output height / width: `HO = (HI + PT + PB - DH (KH - 1) - 1) / SH + 1` |
//!
//! The layer asserts this arithmetic at compile time (post-monomorphisation),
//! so a hand-written wrong type fails to build. The computation is
//! [`conv_forward`](super::im2col::conv_forward) at run-time sizes: a CPU
//! fast path for `Cpu` + `f32`/`f64`, a composed dfdx path otherwise.

use dfdx::nn::{Module, ModuleVisitor, NonMutableModule, TensorCollection, TensorOptions};
use dfdx::prelude::*;
use rand_distr::Uniform;

use super::conv_geom::ConvGeom;
use super::im2col::conv_forward;
use crate::backend::Backend;
use crate::elem::{cast, Elem};

/// A bias vector at run-time size, as the conv core takes it.
type DynBias<E, D, T> = Tensor<(usize,), E, D, T>;

/// 2-D convolution with bias.
///
/// * input `[B, CI, HI, WI]` (any batch dim `B`, any tape), output `[B, CO, HO, WO]`;
/// * parameters `weight [CO, CIG, KH, KW]` (PyTorch layout, `CIG = CI / G`) and
///   `bias [CO]`, both initialised `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with
///   `fan_in = CIG * KH * KW`, like PyTorch.
///
/// `Module` is inference and training alike (`ModuleMut` comes from `NonMutableModule`).
///
/// ```
/// use sxima_runtime::dfdx::nn::{BuildModule, Module};
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::Conv2d;
///
/// // 1 -> 32 channels, 5x5 kernel, stride 1, no padding: 28x28 -> 24x24.
/// type Conv1 = Conv2d<1, 32, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 28, 28, 24, 24, f32, Cpu>;
/// let dev = Cpu::default();
/// let conv = Conv1::build(&dev);
/// let x: Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, _> =
///     dev.sample_normal_like(&(8, Const, Const, Const));
/// let y = conv.forward(x);
/// assert_eq!(y.shape().0, 8); // Tensor<(usize, Const<32>, Const<24>, Const<24>), ..>
/// ```
///
/// A type whose sizes do not add up fails to build (here `HO` should be 24):
///
/// ```compile_fail
/// use sxima_runtime::dfdx::nn::BuildModule;
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::Conv2d;
///
/// type Bad = Conv2d<1, 32, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 28, 28, 25, 24, f32, Cpu>;
/// let _ = Bad::build(&Cpu::default());
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const CIG: usize,
    const PT: usize,
    const PB: usize,
    const PL: usize,
    const PR: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// `[CO, CI / G, KH, KW]`.
    pub weight: Tensor<(Const<CO>, Const<CIG>, Const<KH>, Const<KW>), E, D>,
    /// `[CO]`.
    pub bias: Tensor<(Const<CO>,), E, D>,
}

/// 2-D convolution without bias (`Conv2d(.., bias = false)`); same parameters
/// as [`Conv2d`] and the same shapes, only `weight [CO, CIG, KH, KW]`.
///
/// ```
/// use sxima_runtime::dfdx::nn::{BuildModule, Module};
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::Conv2dNoBias;
///
/// // 4 -> 6 channels, 3x3, stride 2, groups 2, padding 1: 9x8 -> 5x4.
/// type C = Conv2dNoBias<4, 6, 3, 3, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1, 9, 8, 5, 4, f64, Cpu>;
/// let dev = Cpu::default();
/// let conv = C::build(&dev);
/// let x: Tensor<Rank4<2, 4, 9, 8>, f64, _> = dev.sample_normal();
/// let y: Tensor<Rank4<2, 6, 5, 4>, f64, _> = conv.forward(x);
/// # let _ = y;
/// ```
#[derive(Debug, Clone)]
pub struct Conv2dNoBias<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const CIG: usize,
    const PT: usize,
    const PB: usize,
    const PL: usize,
    const PR: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// `[CO, CI / G, KH, KW]`.
    pub weight: Tensor<(Const<CO>, Const<CIG>, Const<KH>, Const<KW>), E, D>,
}

/// The compile-time checks of a conv type's size arithmetic (see module docs).
#[allow(clippy::too_many_arguments)]
const fn check_conv2d(
    ci: usize,
    co: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (dh, dw): (usize, usize),
    g: usize,
    cig: usize,
    (pt, pb, pl, pr): (usize, usize, usize, usize),
    (hi, wi, ho, wo): (usize, usize, usize, usize),
) {
    assert!(kh > 0 && kw > 0, "Conv2d: kernel size must be positive");
    assert!(sh > 0 && sw > 0, "Conv2d: stride must be positive");
    assert!(dh > 0 && dw > 0, "Conv2d: dilation must be positive");
    assert!(g > 0, "Conv2d: groups must be positive");
    assert!(
        ci.is_multiple_of(g),
        "Conv2d: groups must divide the input channels"
    );
    assert!(
        co.is_multiple_of(g),
        "Conv2d: groups must divide the output channels"
    );
    assert!(cig * g == ci, "Conv2d: CIG must equal CI / G");
    assert!(
        hi + pt + pb > dh * (kh - 1),
        "Conv2d: the (dilated) kernel is taller than the padded input"
    );
    assert!(
        wi + pl + pr > dw * (kw - 1),
        "Conv2d: the (dilated) kernel is wider than the padded input"
    );
    assert!(
        sxima_shape::conv_out_is(
            hi as u64, kh as u64, sh as u64, dh as u64, pt as u64, pb as u64, ho as u64
        ),
        "Conv2d: HO must equal (HI + PT + PB - DH (KH - 1) - 1) / SH + 1"
    );
    assert!(
        sxima_shape::conv_out_is(
            wi as u64, kw as u64, sw as u64, dw as u64, pl as u64, pr as u64, wo as u64
        ),
        "Conv2d: WO must equal (WI + PL + PR - DW (KW - 1) - 1) / SW + 1"
    );
}

/// Uniform `(-1/sqrt(fan_in), 1/sqrt(fan_in))`, PyTorch's conv init.
fn init_bound<E: Elem>(fan_in: usize) -> E {
    E::one() / cast::<E>(fan_in as f64).sqrt()
}

macro_rules! conv2d_common {
    ($name:ident) => {
        impl<
                const CI: usize,
                const CO: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const DH: usize,
                const DW: usize,
                const G: usize,
                const CIG: usize,
                const PT: usize,
                const PB: usize,
                const PL: usize,
                const PR: usize,
                const HI: usize,
                const WI: usize,
                const HO: usize,
                const WO: usize,
                E: Dtype,
                D: Storage<E>,
            > $name<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
        {
            /// Evaluating this fails the build when the size parameters are inconsistent.
            pub const CHECK: () = check_conv2d(
                CI,
                CO,
                (KH, KW),
                (SH, SW),
                (DH, DW),
                G,
                CIG,
                (PT, PB, PL, PR),
                (HI, WI, HO, WO),
            );
            /// `CIG * KH * KW`, the fan-in of one output unit.
            pub const FAN_IN: usize = CIG * KH * KW;

            /// The run-time geometry of this layer for a batch of `batch`.
            #[doc(hidden)] // internal: a plan for the window/conv core
            pub fn geom(batch: usize) -> ConvGeom {
                ConvGeom::conv2d(
                    batch,
                    (CI, HI, WI),
                    CO,
                    (KH, KW),
                    (SH, SW),
                    (DH, DW),
                    G,
                    (PT, PB, PL, PR),
                )
            }
        }

        impl<
                const CI: usize,
                const CO: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const DH: usize,
                const DW: usize,
                const G: usize,
                const CIG: usize,
                const PT: usize,
                const PB: usize,
                const PL: usize,
                const PR: usize,
                const HI: usize,
                const WI: usize,
                const HO: usize,
                const WO: usize,
                E: Dtype,
                D: Storage<E>,
            > NonMutableModule
            for $name<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
        {
        }

        impl<
                B: Dim,
                const CI: usize,
                const CO: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const DH: usize,
                const DW: usize,
                const G: usize,
                const CIG: usize,
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
            > Module<Tensor<(B, Const<CI>, Const<HI>, Const<WI>), E, D, T>>
            for $name<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
        {
            type Output = Tensor<(B, Const<CO>, Const<HO>, Const<WO>), E, D, T>;
            type Error = D::Err;

            fn try_forward(
                &self,
                x: Tensor<(B, Const<CI>, Const<HI>, Const<WI>), E, D, T>,
            ) -> Result<Self::Output, D::Err> {
                #[allow(clippy::let_unit_value)]
                let () = Self::CHECK;
                let batch = x.shape().0;
                let geom = Self::geom(batch.size());
                let x = x.try_reshape_like(&(geom.input_len(),))?;
                let w = self
                    .weight
                    .retaped::<T>()
                    .try_reshape_like(&(CO, Self::FAN_IN))?;
                let y = conv_forward(x, w, self.bias_for::<T>()?, &geom)?;
                y.try_reshape_like(&(batch, Const, Const, Const))
            }
        }
    };
}

conv2d_common!(Conv2d);
conv2d_common!(Conv2dNoBias);

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const DH: usize,
        const DW: usize,
        const G: usize,
        const CIG: usize,
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
    > Conv2d<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
{
    fn bias_for<T: Tape<E, D>>(&self) -> Result<Option<DynBias<E, D, T>>, D::Err> {
        Ok(Some(self.bias.retaped::<T>().try_reshape_like(&(CO,))?))
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const DH: usize,
        const DW: usize,
        const G: usize,
        const CIG: usize,
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
    > Conv2dNoBias<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
{
    fn bias_for<T: Tape<E, D>>(&self) -> Result<Option<DynBias<E, D, T>>, D::Err> {
        Ok(None)
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const DH: usize,
        const DW: usize,
        const G: usize,
        const CIG: usize,
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Device<E>,
    > TensorCollection<E, D>
    for Conv2d<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> =
        Conv2d<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| {
                        let b: E = init_bound(Self::FAN_IN);
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_with(|t| {
                        let b: E = init_bound(Self::FAN_IN);
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
            ),
            |(weight, bias)| Conv2d { weight, bias },
        )
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const DH: usize,
        const DW: usize,
        const G: usize,
        const CIG: usize,
        const PT: usize,
        const PB: usize,
        const PL: usize,
        const PR: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Device<E>,
    > TensorCollection<E, D>
    for Conv2dNoBias<CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Conv2dNoBias<
        CI,
        CO,
        KH,
        KW,
        SH,
        SW,
        DH,
        DW,
        G,
        CIG,
        PT,
        PB,
        PL,
        PR,
        HI,
        WI,
        HO,
        WO,
        E2,
        D2,
    >;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        visitor.visit_fields(
            (Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                TensorOptions::reset_with(|t| {
                    let b: E = init_bound(Self::FAN_IN);
                    t.try_fill_with_distr(Uniform::new(-b, b))
                }),
            ),),
            |(weight,)| Conv2dNoBias { weight },
        )
    }
}
