//! The recurrent layer shared by `SimpleRnn`, `Lstm` and `Gru`: parameters in
//! PyTorch's layout, the loop over time, and the choice of what it returns.
//!
//! A [`Recurrent<I, H, K, E, D, R, DROPOUT_PPM>`] reads `x: [B, T, I]` (batch
//! first, any batch `B: Dim`, any length `T: Dim`) and runs the cell `K` (one of
//! [`TanhCell`](super::TanhCell), [`LstmCell`](super::LstmCell),
//! [`GruCell`](super::GruCell)) once per step. The return mode `R` picks the
//! output: [`AllSteps`] gives `[B, T, H]` (Keras `return_sequences = True`),
//! [`LastStep`] gives the final hidden state `[B, H]`.
//!
//! Parameters (PyTorch names and layouts, `G` = the cell's gate count):
//! `weight_ih_l0 [G*H, I]`, `weight_hh_l0 [G*H, H]`, `bias_ih_l0 [G*H]`,
//! `bias_hh_l0 [G*H]`, all initialised `U(-1/sqrt(H), 1/sqrt(H))` like
//! PyTorch. The stacked gate axis is the dimension [`GateDim<K, H>`] of size
//! `G*H`, because stable Rust cannot write `Const<{G * H}>`.
//!
//! The recurrence itself is the device's choice
//! ([`Backend::recurrent_run`](crate::backend::Backend::recurrent_run)): by
//! default a composition of dfdx ops (the input projection `x W_ih^T + b_ih`
//! as one matmul over all steps, then the cell's [`CellKind::step`] per step),
//! so back-propagation through time and CUDA come from dfdx; `Cpu` runs the
//! built-in cells ([`CellKind::MATH`]) with a fused kernel.
//!
//! Input dropout (`DROPOUT_PPM`, the drop probability in millionths, e.g.
//! `200_000` for 0.2) is active only in the training forward (`ModuleMut`):
//! one mask per sequence and input feature, shared by every time step (Keras's
//! `dropout`), on the input connections only, never on the recurrent ones.

use std::fmt::Debug;
use std::marker::PhantomData;

use dfdx::nn::{Module, ModuleMut, ModuleVisitor, TensorCollection, TensorOptions};
use dfdx::prelude::*;
use rand_distr::Uniform;

use crate::backend::Backend;
use crate::elem::Elem;

/// A `[B, H]` state (hidden or cell) of a recurrent layer.
pub type Hidden<B, const H: usize, E, D, Tp = NoneTape> = Tensor<(B, Const<H>), E, D, Tp>;

/// What a recurrent layer returns: [`AllSteps`] or [`LastStep`].
pub trait ReturnMode: Default + Clone + Copy + Debug + Send + Sync + 'static {
    /// The returned tensor for a `[B, T, ..]` input and hidden size `H`.
    type Output<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp>;

    /// Picks the returned tensor out of a run (its tape included).
    fn finish<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp: Tape<E, D>>(
        run: RecurrentOutput<B, T, H, E, D, Tp>,
    ) -> Self::Output<B, T, H, E, D, Tp>;
}

/// Return every step: `[B, T, H]` (Keras `return_sequences = True`, PyTorch's `output`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AllSteps;

/// Return the final hidden state only: `[B, H]` (Keras's default, PyTorch's `h_n`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LastStep;

impl ReturnMode for AllSteps {
    type Output<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp> =
        Tensor<(B, T, Const<H>), E, D, Tp>;

    fn finish<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp: Tape<E, D>>(
        run: RecurrentOutput<B, T, H, E, D, Tp>,
    ) -> Self::Output<B, T, H, E, D, Tp> {
        run.output
    }
}

impl ReturnMode for LastStep {
    type Output<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp> =
        Hidden<B, H, E, D, Tp>;

    fn finish<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp: Tape<E, D>>(
        run: RecurrentOutput<B, T, H, E, D, Tp>,
    ) -> Self::Output<B, T, H, E, D, Tp> {
        run.into_last()
    }
}

/// Everything one run over a sequence produces.
///
/// `output` carries the whole tape (every operation of the run); `h_n` and
/// `c_n` are the same values as the last step's state, without a tape. To
/// back-propagate through the final state instead of the sequence, use
/// [`RecurrentOutput::into_last`], or move the tape yourself
/// (`let (y, tape) = out.output.split_tape(); out.h_n.put_tape(tape)`).
#[derive(Debug, Clone)]
pub struct RecurrentOutput<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp> {
    /// `[B, T, H]`: the hidden state after each step, in input order (also for
    /// a reversed run, so `output[:, t]` belongs to input step `t`).
    pub output: Tensor<(B, T, Const<H>), E, D, Tp>,
    /// `[B, H]`: the hidden state after the last step processed (step `T-1`,
    /// or step 0 for a reversed run); the initial state when `T = 0`.
    pub h_n: Hidden<B, H, E, D>,
    /// `[B, H]`: the final cell state (LSTM only).
    pub c_n: Option<Hidden<B, H, E, D>>,
}

impl<B: Dim, T: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp: Tape<E, D>>
    RecurrentOutput<B, T, H, E, D, Tp>
{
    /// The final hidden state `[B, H]`, carrying the run's whole tape.
    pub fn into_last(self) -> Hidden<B, H, E, D, Tp> {
        let (_, tape) = self.output.split_tape();
        self.h_n.put_tape(tape)
    }
}

/// The initial state of a run: `h0 [B, H]`, and `c0 [B, H]` for an LSTM
/// (ignored by the other cells). A missing state starts at zeros.
#[derive(Debug, Clone)]
pub struct InitialState<B: Dim, const H: usize, E: Dtype, D: Storage<E>, Tp> {
    /// Initial hidden state `[B, H]`.
    pub h0: Hidden<B, H, E, D, Tp>,
    /// Initial cell state `[B, H]` (LSTM); zeros when `None`.
    pub c0: Option<Hidden<B, H, E, D, Tp>>,
}

/// The stacked gate axis of cell `K` with hidden size `H`: a dimension of
/// size `K::GATES * H` known at compile time (so parameters built from it
/// have a constant shape, as dfdx's module builder needs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GateDim<K, const H: usize>(PhantomData<K>);

impl<K: CellKind, const H: usize> Dim for GateDim<K, H> {
    fn size(&self) -> usize {
        K::GATES * H
    }

    fn from_size(size: usize) -> Option<Self> {
        (size == K::GATES * H).then(Self::default)
    }
}

impl<K: CellKind, const H: usize> ConstDim for GateDim<K, H> {
    const SIZE: usize = K::GATES * H;
}

/// The formulas of a built-in cell, for a device kernel that runs a whole
/// layer in one pass instead of the cell's dfdx [`CellKind::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellMath {
    /// `h = tanh(z)` ([`TanhCell`](super::TanhCell)).
    Tanh,
    /// PyTorch's LSTM, gates `(i, f, g, o)` ([`LstmCell`](super::LstmCell)).
    Lstm,
    /// PyTorch's GRU, reset after the recurrent matmul
    /// ([`GruCell<true>`](super::GruCell)).
    GruResetAfter,
}

/// The four parameters of one direction of a recurrent layer, borrowed
/// (shapes as the fields of [`Recurrent`]).
#[derive(Debug)]
pub struct CellParams<'a, const I: usize, const H: usize, K: CellKind, E: Dtype, D: Storage<E>> {
    /// `weight_ih_l0 [G*H, I]`.
    pub weight_ih: &'a Tensor<(GateDim<K, H>, Const<I>), E, D>,
    /// `weight_hh_l0 [G*H, H]`.
    pub weight_hh: &'a Tensor<(GateDim<K, H>, Const<H>), E, D>,
    /// `bias_ih_l0 [G*H]`.
    pub bias_ih: &'a Tensor<(GateDim<K, H>,), E, D>,
    /// `bias_hh_l0 [G*H]`.
    pub bias_hh: &'a Tensor<(GateDim<K, H>,), E, D>,
}

impl<const I: usize, const H: usize, K: CellKind, E: Dtype, D: Storage<E>> Clone
    for CellParams<'_, I, H, K, E, D>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<const I: usize, const H: usize, K: CellKind, E: Dtype, D: Storage<E>> Copy
    for CellParams<'_, I, H, K, E, D>
{
}

/// One recurrent cell: its gate count and its step function.
pub trait CellKind:
    Default + Clone + Copy + Debug + PartialEq + Eq + Send + Sync + 'static
{
    /// Number of stacked gates `G` in the weights (`[G*H, ..]`).
    const GATES: usize;
    /// Whether the cell carries a cell state `c` besides `h` (LSTM).
    const HAS_CELL: bool;
    /// The cell's formulas when they are one of the built-in ones a device
    /// kernel knows (`Cpu` runs such layers with `kernels::recurrent_cpu`);
    /// `None` (the default) runs [`step`](Self::step) per time step.
    const MATH: Option<CellMath> = None;

    /// One step. `xw: [B, G*H]` is `x_t W_ih^T + b_ih` for this step; `h`
    /// (and `c` for an LSTM) is the previous state; `w_hh [G*H, H]` and
    /// `b_hh [G*H]` are the recurrent parameters. Returns the new `(h, c)`.
    #[allow(clippy::type_complexity)]
    fn step<B: Dim, const H: usize, E: Elem, D: Backend<E>, Tp: Tape<E, D>>(
        xw: Tensor<(B, GateDim<Self, H>), E, D, Tp>,
        h: Hidden<B, H, E, D, Tp>,
        c: Option<Hidden<B, H, E, D, Tp>>,
        w_hh: &Tensor<(GateDim<Self, H>, Const<H>), E, D>,
        b_hh: &Tensor<(GateDim<Self, H>,), E, D>,
    ) -> Result<(Hidden<B, H, E, D, Tp>, Option<Hidden<B, H, E, D, Tp>>), D::Err>;
}

/// `h W_hh^T + b_hh`: `[B, H] -> [B, G*H]`.
#[allow(clippy::type_complexity)]
pub(crate) fn hidden_projection<
    B: Dim,
    const H: usize,
    K: CellKind,
    E: Elem,
    D: Backend<E>,
    Tp: Tape<E, D>,
>(
    h: Hidden<B, H, E, D, Tp>,
    w_hh: &Tensor<(GateDim<K, H>, Const<H>), E, D>,
    b_hh: &Tensor<(GateDim<K, H>,), E, D>,
) -> Result<Tensor<(B, GateDim<K, H>), E, D, Tp>, D::Err> {
    let y = h.try_matmul(w_hh.retaped::<Tp>().try_permute::<_, Axes2<1, 0>>()?)?;
    let shape = *y.shape();
    y.try_add(
        b_hh.retaped::<Tp>()
            .try_broadcast_like::<_, Axis<0>>(&shape)?,
    )
}

/// Gate `k` (`[B, H]`) of a stacked `[B, G*H]` pre-activation.
pub(crate) fn gate<B: Dim, G: Dim, const H: usize, E: Elem, D: Backend<E>, Tp: Tape<E, D>>(
    z: Tensor<(B, G), E, D, Tp>,
    k: usize,
) -> Result<Hidden<B, H, E, D, Tp>, D::Err> {
    let b = z.shape().0;
    z.try_slice((.., k * H..(k + 1) * H))?
        .try_reshape_like(&(b, Const::<H>))
}

/// A recurrent layer over `[B, T, I]` with hidden size `H` and cell `K`.
///
/// Use the aliases [`SimpleRnn`](super::SimpleRnn), [`Lstm`](super::Lstm)
/// and [`Gru`](super::Gru); the module docs above give the shapes,
/// parameters and options.
#[derive(Debug, Clone)]
pub struct Recurrent<
    const I: usize,
    const H: usize,
    K: CellKind,
    E: Dtype,
    D: Storage<E>,
    R: ReturnMode = AllSteps,
    const DROPOUT_PPM: u32 = 0,
> {
    /// `weight_ih_l0 [G*H, I]`: input-to-hidden weights, gates stacked.
    pub weight_ih: Tensor<(GateDim<K, H>, Const<I>), E, D>,
    /// `weight_hh_l0 [G*H, H]`: hidden-to-hidden weights, gates stacked.
    pub weight_hh: Tensor<(GateDim<K, H>, Const<H>), E, D>,
    /// `bias_ih_l0 [G*H]`.
    pub bias_ih: Tensor<(GateDim<K, H>,), E, D>,
    /// `bias_hh_l0 [G*H]`.
    pub bias_hh: Tensor<(GateDim<K, H>,), E, D>,
    /// The cell (a marker).
    pub cell: K,
    /// The return mode (a marker).
    pub mode: R,
}

/// PyTorch's recurrent initialisation `U(-1/sqrt(H), 1/sqrt(H))`.
fn reset_uniform<const H: usize, S: Shape, E: Elem, D: Backend<E>>(
    t: &mut Tensor<S, E, D>,
) -> Result<(), D::Err> {
    let k = 1.0 / (H.max(1) as f64).sqrt();
    let k = E::from(k).unwrap_or_else(E::one);
    t.try_fill_with_distr(Uniform::new(-k, k))
}

/// Trainable-parameter options, reset like PyTorch.
pub(crate) fn param<const H: usize, S: ConstShape, E: Elem, D: Backend<E>>(
) -> TensorOptions<S, E, D> {
    TensorOptions::reset_with(reset_uniform::<H, S, E, D>)
}

impl<
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Dtype,
        D: Storage<E>,
        R: ReturnMode,
        const P: u32,
    > Recurrent<I, H, K, E, D, R, P>
{
    /// Input dropout probability of the training forward.
    pub const DROPOUT: f64 = P as f64 / 1_000_000.0;
    /// Input features `I`.
    pub const INPUT: usize = I;
    /// Hidden size `H`.
    pub const HIDDEN: usize = H;

    /// A layer from its four parameters (PyTorch layout, see the module docs).
    pub fn from_parts(
        weight_ih: Tensor<(GateDim<K, H>, Const<I>), E, D>,
        weight_hh: Tensor<(GateDim<K, H>, Const<H>), E, D>,
        bias_ih: Tensor<(GateDim<K, H>,), E, D>,
        bias_hh: Tensor<(GateDim<K, H>,), E, D>,
    ) -> Self {
        Self {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            cell: K::default(),
            mode: R::default(),
        }
    }
}

/// The PyTorch parameter names of one direction: `suffix` is `""` or `"_reverse"`.
pub(crate) fn param_names(suffix: &str) -> [String; 4] {
    ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map(|n| format!("{n}{suffix}"))
}

impl<
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Elem,
        D: Backend<E>,
        R: ReturnMode,
        const P: u32,
    > TensorCollection<E, D> for Recurrent<I, H, K, E, D, R, P>
{
    type To<E2: Dtype, D2: Device<E2>> = Recurrent<I, H, K, E2, D2, R, P>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        let [wi, wh, bi, bh] = param_names("");
        visitor.visit_fields(
            (
                Self::tensor(
                    &wi,
                    |s| &s.weight_ih,
                    |s| &mut s.weight_ih,
                    param::<H, _, E, D>(),
                ),
                Self::tensor(
                    &wh,
                    |s| &s.weight_hh,
                    |s| &mut s.weight_hh,
                    param::<H, _, E, D>(),
                ),
                Self::tensor(
                    &bi,
                    |s| &s.bias_ih,
                    |s| &mut s.bias_ih,
                    param::<H, _, E, D>(),
                ),
                Self::tensor(
                    &bh,
                    |s| &s.bias_hh,
                    |s| &mut s.bias_hh,
                    param::<H, _, E, D>(),
                ),
            ),
            |(weight_ih, weight_hh, bias_ih, bias_hh)| Recurrent {
                weight_ih,
                weight_hh,
                bias_ih,
                bias_hh,
                cell: K::default(),
                mode: R::default(),
            },
        )
    }
}

impl<
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Elem,
        D: Backend<E>,
        R: ReturnMode,
        const P: u32,
    > Recurrent<I, H, K, E, D, R, P>
{
    /// Runs over `x: [B, T, I]` from an initial state (zeros when `None`),
    /// forwards in time or, with `reverse`, from step `T-1` down to 0.
    /// `training` turns input dropout on. Returns every step and the final
    /// state; see [`RecurrentOutput`] for where the tape goes.
    pub fn try_run<B: Dim, T: Dim, Tp: Tape<E, D>>(
        &self,
        x: Tensor<(B, T, Const<I>), E, D, Tp>,
        state: Option<InitialState<B, H, E, D, Tp>>,
        reverse: bool,
        training: bool,
    ) -> Result<RecurrentOutput<B, T, H, E, D, Tp>, D::Err> {
        let dev = x.device().clone();
        let shape = *x.shape();
        let b = shape.0;
        let x = if training && P >= 1_000_000 {
            // p >= 1 drops every input (as `Dropout` does), with no 1/(1-p).
            x.try_mul(E::zero())?
        } else if training && P > 0 {
            // One mask [B, I] per sequence, shared by every step (Keras).
            let mask = dev
                .try_ones_like(&(b, Const::<I>))?
                .try_dropout(Self::DROPOUT)?;
            x.try_mul(mask.try_broadcast_like::<_, Axis<1>>(&shape)?)?
        } else {
            x
        };
        D::recurrent_run(self.params(), x, state, reverse)
    }

    /// The four parameters, borrowed (what a device's recurrence kernel reads).
    pub fn params(&self) -> CellParams<'_, I, H, K, E, D> {
        CellParams {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias_ih: &self.bias_ih,
            bias_hh: &self.bias_hh,
        }
    }
}

impl<
        B: Dim,
        T: Dim,
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Elem,
        D: Backend<E>,
        Tp: Tape<E, D>,
        R: ReturnMode,
        const P: u32,
    > Module<Tensor<(B, T, Const<I>), E, D, Tp>> for Recurrent<I, H, K, E, D, R, P>
{
    type Output = R::Output<B, T, H, E, D, Tp>;
    type Error = D::Err;

    /// Inference from a zero state: `[B, T, I] -> [B, T, H]` or `[B, H]`.
    fn try_forward(&self, x: Tensor<(B, T, Const<I>), E, D, Tp>) -> Result<Self::Output, D::Err> {
        Ok(R::finish(self.try_run(x, None, false, false)?))
    }
}

impl<
        B: Dim,
        T: Dim,
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Elem,
        D: Backend<E>,
        Tp: Tape<E, D>,
        R: ReturnMode,
        const P: u32,
    > ModuleMut<Tensor<(B, T, Const<I>), E, D, Tp>> for Recurrent<I, H, K, E, D, R, P>
{
    type Output = R::Output<B, T, H, E, D, Tp>;
    type Error = D::Err;

    /// Training from a zero state (input dropout on).
    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, T, Const<I>), E, D, Tp>,
    ) -> Result<Self::Output, D::Err> {
        Ok(R::finish(self.try_run(x, None, false, true)?))
    }
}
