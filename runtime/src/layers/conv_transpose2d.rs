//! `ConvTranspose2d`: transposed 2-D convolution (PyTorch `nn.ConvTranspose2d`,
//! groups 1, dilation 1), on any dfdx device.
//!
//! Computed as a stride-1 convolution of the input with zeros inserted between
//! its pixels (`stride - 1` per gap), padded by `kernel - 1 - padding` (plus
//! `output_padding` at the bottom/right), using the kernel flipped in space and
//! with its channel axes swapped. The flip/swap is a `gather` with a fixed
//! permutation, so gradients reach the stored weight through autodiff; the
//! convolution is [`conv_forward`] (CPU fast path or composed dfdx ops).
//!
//! Const parameters: `CI`, `CO` channels; `KH`, `KW` kernel; `SH`, `SW` stride;
//! `PH`, `PW` padding (cropped from every border); `OPH`, `OPW` output padding
//! (`< stride`); `HI`, `WI` input size; `HO`, `WO` output size with
//! `HO = (HI - 1) SH - 2 PH + KH + OPH` (checked at compile time).

use dfdx::nn::{Module, ModuleVisitor, NonMutableModule, TensorCollection, TensorOptions};
use dfdx::prelude::*;
use rand_distr::Uniform;

use super::conv_geom::ConvGeom;
use super::im2col::conv_forward;
use crate::backend::Backend;
use crate::elem::{cast, Elem};

/// A matrix at run-time sizes (the conv core's weight operand).
pub type DynMatrix<E, D, T> = Tensor<(usize, usize), E, D, T>;

/// Transposed convolution with bias.
///
/// * input `[B, CI, HI, WI]` (any batch dim, any tape), output `[B, CO, HO, WO]`;
/// * parameters `weight [CI, CO, KH, KW]` (PyTorch layout: input channels first)
///   and `bias [CO]`, initialised `U(-1/sqrt(CO KH KW), 1/sqrt(CO KH KW))` like PyTorch.
///
/// ```
/// use sxima_runtime::dfdx::nn::{BuildModule, Module};
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::ConvTranspose2d;
///
/// // Upsample 16 -> 8 channels, 7x7 -> 14x14 (kernel 4, stride 2, padding 1).
/// type Up = ConvTranspose2d<16, 8, 4, 4, 2, 2, 1, 1, 0, 0, 7, 7, 14, 14, f32, Cpu>;
/// let dev = Cpu::default();
/// let up = Up::build(&dev);
/// let x: Tensor<Rank4<3, 16, 7, 7>, f32, _> = dev.sample_normal();
/// let y: Tensor<Rank4<3, 8, 14, 14>, f32, _> = up.forward(x);
/// # let _ = y;
/// ```
#[derive(Debug, Clone)]
pub struct ConvTranspose2d<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const OPH: usize,
    const OPW: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// `[CI, CO, KH, KW]`.
    pub weight: Tensor<(Const<CI>, Const<CO>, Const<KH>, Const<KW>), E, D>,
    /// `[CO]`.
    pub bias: Tensor<(Const<CO>,), E, D>,
}

const fn check_conv_transpose2d(
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (ph, pw): (usize, usize),
    (oph, opw): (usize, usize),
    (hi, wi, ho, wo): (usize, usize, usize, usize),
) {
    assert!(
        kh > 0 && kw > 0,
        "ConvTranspose2d: kernel size must be positive"
    );
    assert!(sh > 0 && sw > 0, "ConvTranspose2d: stride must be positive");
    assert!(
        hi > 0 && wi > 0,
        "ConvTranspose2d: input size must be positive"
    );
    assert!(
        oph < sh && opw < sw,
        "ConvTranspose2d: output padding must be smaller than the stride"
    );
    assert!(
        matches!(
            sxima_shape::transpose_out(hi as u64, kh as u64, sh as u64, ph as u64, oph as u64),
            Some(o) if o == ho as u64
        ),
        "ConvTranspose2d: HO must equal (HI - 1) SH - 2 PH + KH + OPH"
    );
    assert!(
        matches!(
            sxima_shape::transpose_out(wi as u64, kw as u64, sw as u64, pw as u64, opw as u64),
            Some(o) if o == wo as u64
        ),
        "ConvTranspose2d: WO must equal (WI - 1) SW - 2 PW + KW + OPW"
    );
}

/// The permutation that turns a transposed-conv weight `[ci, co, kh, kw]`
/// (flattened) into the equivalent convolution weight `[co, ci, kh, kw]`
/// flipped in both spatial axes: `conv[o, c, i, j] = w[c, o, kh-1-i, kw-1-j]`.
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn transposed_weight_index(ci: usize, co: usize, kh: usize, kw: usize) -> Vec<usize> {
    let mut idx = Vec::with_capacity(ci * co * kh * kw);
    for o in 0..co {
        for c in 0..ci {
            for i in 0..kh {
                for j in 0..kw {
                    idx.push(((c * co + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j));
                }
            }
        }
    }
    idx
}

/// The convolution weight matrix `[co, ci * kh * kw]` of a transposed-conv
/// weight given flattened (`[ci * co * kh * kw]`, PyTorch layout `[ci, co, kh, kw]`);
/// differentiable (a `gather`).
#[doc(hidden)] // internal: a plan for the window/conv core
pub fn transposed_weight<E: Elem, D: Backend<E>, T: Tape<E, D>>(
    w: Tensor<(usize,), E, D, T>,
    (ci, co, kh, kw): (usize, usize, usize, usize),
) -> Result<DynMatrix<E, D, T>, D::Err> {
    let idx = transposed_weight_index(ci, co, kh, kw);
    let idx = w.device().try_tensor_from_vec(idx, (ci * co * kh * kw,))?;
    w.try_gather(idx)?.try_reshape_like(&(co, ci * kh * kw))
}

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OPH: usize,
        const OPW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Dtype,
        D: Storage<E>,
    > ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E, D>
{
    /// Evaluating this fails the build when the size parameters are inconsistent.
    pub const CHECK: () =
        check_conv_transpose2d((KH, KW), (SH, SW), (PH, PW), (OPH, OPW), (HI, WI, HO, WO));
    /// PyTorch's fan-in for a transposed conv weight `[CI, CO, KH, KW]`: `CO * KH * KW`.
    pub const FAN_IN: usize = CO * KH * KW;

    /// The run-time geometry (of the equivalent convolution) for a batch of `batch`.
    #[doc(hidden)] // internal: a plan for the window/conv core
    pub fn geom(batch: usize) -> ConvGeom {
        ConvGeom::conv_transpose2d(
            batch,
            (CI, HI, WI),
            CO,
            (KH, KW),
            (SH, SW),
            (PH, PW),
            (OPH, OPW),
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
        const PH: usize,
        const PW: usize,
        const OPH: usize,
        const OPW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Dtype,
        D: Storage<E>,
    > NonMutableModule
    for ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E, D>
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
        const PH: usize,
        const PW: usize,
        const OPH: usize,
        const OPW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Backend<E>,
        T: Tape<E, D>,
    > Module<Tensor<(B, Const<CI>, Const<HI>, Const<WI>), E, D, T>>
    for ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E, D>
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
            .try_reshape_like(&(CI * CO * KH * KW,))?;
        let w = transposed_weight(w, (CI, CO, KH, KW))?;
        let b = self.bias.retaped::<T>().try_reshape_like(&(CO,))?;
        let y = conv_forward(x, w, Some(b), &geom)?;
        y.try_reshape_like(&(batch, Const, Const, Const))
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OPH: usize,
        const OPW: usize,
        const HI: usize,
        const WI: usize,
        const HO: usize,
        const WO: usize,
        E: Elem,
        D: Device<E>,
    > TensorCollection<E, D>
    for ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> =
        ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E2, D2>;

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
                        let b: E = E::one() / cast::<E>(Self::FAN_IN as f64).sqrt();
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_with(|t| {
                        let b: E = E::one() / cast::<E>(Self::FAN_IN as f64).sqrt();
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
            ),
            |(weight, bias)| ConvTranspose2d { weight, bias },
        )
    }
}
