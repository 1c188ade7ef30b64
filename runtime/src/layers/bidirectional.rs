//! `Bidirectional`: a recurrent layer run forwards and, with its own
//! parameters, backwards over the sequence, the two results merged.
//!
//! `Bidirectional<L, O, M>` wraps `L = Recurrent<I, H, ..>` (a
//! [`SimpleRnn`](super::SimpleRnn), [`Lstm`](super::Lstm) or
//! [`Gru`](super::Gru)). The backward copy reads step `T-1` first; its output
//! at step `t` belongs to input step `t`. Merge `M`: [`Concat`] (forward
//! first, `O = 2H`, PyTorch's `bidirectional = True`), [`Sum`] or [`Mean`]
//! (`O = H`); `O` is asserted at build time.
//! With `L`'s return mode [`AllSteps`](super::AllSteps) the output is
//! `[B, T, O]`; with [`LastStep`](super::LastStep) it merges the forward final
//! state (after step `T-1`) and the backward one (after step 0): `[B, O]`.
//!
//! Parameters: the forward direction's `weight_ih_l0`, `weight_hh_l0`,
//! `bias_ih_l0`, `bias_hh_l0`, and the backward's with `_reverse` appended,
//! as in a PyTorch state dict.
//!
//! ```
//! use sxima_runtime::dfdx::nn::BuildModule;
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::layers::{Bidirectional, Concat, Lstm};
//!
//! let dev = Cpu::default();
//! type BiLstm = Bidirectional<Lstm<3, 4, f32, Cpu>, 8, Concat>;
//! let m = <BiLstm as BuildModule<Cpu, f32>>::build(&dev);
//! let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(2, 5, Const));
//! let y: Tensor<(usize, usize, Const<8>), f32, _> = m.forward(x);
//! assert_eq!(y.shape().1, 5);
//! ```

use std::fmt::Debug;

use dfdx::nn::{Module, ModuleMut, ModuleVisitor, TensorCollection};
use dfdx::prelude::*;

use super::recurrent::{
    param, param_names, CellKind, Hidden, InitialState, Recurrent, RecurrentOutput, ReturnMode,
};
use crate::backend::Backend;
use crate::elem::Elem;

/// How the two directions' results are merged (last axis `H` each -> `O`).
pub trait MergeMode: Default + Clone + Copy + Debug + Send + Sync + 'static {
    /// The merged size is `FACTOR * H` (2 for concat, 1 for sum and mean).
    const FACTOR: usize;

    /// Merges `[B, T, H]` and `[B, T, H]` into `[B, T, O]`.
    #[allow(clippy::type_complexity)]
    fn merge_steps<B: Dim, T: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Tensor<(B, T, Const<H>), E, D, Tp>,
        b: Tensor<(B, T, Const<H>), E, D, Tp>,
    ) -> Result<Tensor<(B, T, Const<O>), E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>;

    /// Merges `[B, H]` and `[B, H]` into `[B, O]`.
    fn merge_states<B: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Hidden<B, H, E, D, Tp>,
        b: Hidden<B, H, E, D, Tp>,
    ) -> Result<Hidden<B, O, E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>;
}

/// Concatenate: forward features first, then backward (`O = 2H`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Concat;

/// Element-wise sum of the two directions (`O = H`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sum;

/// Element-wise mean of the two directions (`O = H`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Mean;

impl MergeMode for Concat {
    const FACTOR: usize = 2;

    fn merge_steps<B: Dim, T: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Tensor<(B, T, Const<H>), E, D, Tp>,
        b: Tensor<(B, T, Const<H>), E, D, Tp>,
    ) -> Result<Tensor<(B, T, Const<O>), E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let (n, t, _) = *a.shape();
        let a = a.try_reshape_like(&(n, t, H))?;
        let b = b.try_reshape_like(&(n, t, H))?;
        (a, b)
            .try_concat_along(Axis::<2>)?
            .try_reshape_like(&(n, t, Const::<O>))
    }

    fn merge_states<B: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Hidden<B, H, E, D, Tp>,
        b: Hidden<B, H, E, D, Tp>,
    ) -> Result<Hidden<B, O, E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let n = a.shape().0;
        let a = a.try_reshape_like(&(n, H))?;
        let b = b.try_reshape_like(&(n, H))?;
        (a, b)
            .try_concat_along(Axis::<1>)?
            .try_reshape_like(&(n, Const::<O>))
    }
}

impl MergeMode for Sum {
    const FACTOR: usize = 1;

    fn merge_steps<B: Dim, T: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Tensor<(B, T, Const<H>), E, D, Tp>,
        b: Tensor<(B, T, Const<H>), E, D, Tp>,
    ) -> Result<Tensor<(B, T, Const<O>), E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let (n, t, _) = *a.shape();
        a.try_add(b)?.try_reshape_like(&(n, t, Const::<O>))
    }

    fn merge_states<B: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Hidden<B, H, E, D, Tp>,
        b: Hidden<B, H, E, D, Tp>,
    ) -> Result<Hidden<B, O, E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let n = a.shape().0;
        a.try_add(b)?.try_reshape_like(&(n, Const::<O>))
    }
}

impl MergeMode for Mean {
    const FACTOR: usize = 1;

    fn merge_steps<B: Dim, T: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Tensor<(B, T, Const<H>), E, D, Tp>,
        b: Tensor<(B, T, Const<H>), E, D, Tp>,
    ) -> Result<Tensor<(B, T, Const<O>), E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let (n, t, _) = *a.shape();
        let half = E::from(0.5).unwrap_or_else(E::one);
        a.try_add(b)?
            .try_mul(half)?
            .try_reshape_like(&(n, t, Const::<O>))
    }

    fn merge_states<B: Dim, const H: usize, const O: usize, E: Elem, D: Backend<E>, Tp>(
        a: Hidden<B, H, E, D, Tp>,
        b: Hidden<B, H, E, D, Tp>,
    ) -> Result<Hidden<B, O, E, D, Tp>, D::Err>
    where
        Tp: Tape<E, D>,
    {
        let n = a.shape().0;
        let half = E::from(0.5).unwrap_or_else(E::one);
        a.try_add(b)?
            .try_mul(half)?
            .try_reshape_like(&(n, Const::<O>))
    }
}

/// A recurrent layer `L` in both directions, merged by `M` into `O` features.
#[derive(Debug, Clone)]
pub struct Bidirectional<L, const O: usize, M: MergeMode = Concat> {
    /// The forward direction (parameters `*_l0`).
    pub forward: L,
    /// The backward direction (parameters `*_l0_reverse`).
    pub backward: L,
    /// The merge mode (a marker).
    pub merge: M,
}

impl<
        const I: usize,
        const H: usize,
        K: CellKind,
        E: Elem,
        D: Backend<E>,
        R: ReturnMode,
        const P: u32,
        const O: usize,
        M: MergeMode,
    > TensorCollection<E, D> for Bidirectional<Recurrent<I, H, K, E, D, R, P>, O, M>
{
    type To<E2: Dtype, D2: Device<E2>> = Bidirectional<Recurrent<I, H, K, E2, D2, R, P>, O, M>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        let () = Self::SIZE_OK;
        let [fwi, fwh, fbi, fbh] = param_names("");
        let [rwi, rwh, rbi, rbh] = param_names("_reverse");
        visitor.visit_fields(
            (
                (
                    Self::tensor(
                        &fwi,
                        |s| &s.forward.weight_ih,
                        |s| &mut s.forward.weight_ih,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &fwh,
                        |s| &s.forward.weight_hh,
                        |s| &mut s.forward.weight_hh,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &fbi,
                        |s| &s.forward.bias_ih,
                        |s| &mut s.forward.bias_ih,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &fbh,
                        |s| &s.forward.bias_hh,
                        |s| &mut s.forward.bias_hh,
                        param::<H, _, E, D>(),
                    ),
                ),
                (
                    Self::tensor(
                        &rwi,
                        |s| &s.backward.weight_ih,
                        |s| &mut s.backward.weight_ih,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &rwh,
                        |s| &s.backward.weight_hh,
                        |s| &mut s.backward.weight_hh,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &rbi,
                        |s| &s.backward.bias_ih,
                        |s| &mut s.backward.bias_ih,
                        param::<H, _, E, D>(),
                    ),
                    Self::tensor(
                        &rbh,
                        |s| &s.backward.bias_hh,
                        |s| &mut s.backward.bias_hh,
                        param::<H, _, E, D>(),
                    ),
                ),
            ),
            |((a, b, c, d), (e, f, g, h))| Bidirectional {
                forward: Recurrent::from_parts(a, b, c, d),
                backward: Recurrent::from_parts(e, f, g, h),
                merge: M::default(),
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
        const O: usize,
        M: MergeMode,
    > Bidirectional<Recurrent<I, H, K, E, D, R, P>, O, M>
{
    /// `O` matches the merge mode (`2H` for concat, `H` for sum and mean).
    const SIZE_OK: () = assert!(
        O == M::FACTOR * H,
        "Bidirectional: O must be 2H (concat) or H (sum, mean)"
    );

    /// Runs both directions over `x: [B, T, I]`, each from its own initial
    /// state (zeros when `None`); `training` turns input dropout on. Returns
    /// `(forward, backward)` unmerged; the input's tape goes with the
    /// forward run.
    #[allow(clippy::type_complexity)]
    pub fn try_run_both<B: Dim, T: Dim, Tp: Tape<E, D>>(
        &self,
        x: Tensor<(B, T, Const<I>), E, D, Tp>,
        states: (
            Option<InitialState<B, H, E, D, Tp>>,
            Option<InitialState<B, H, E, D, Tp>>,
        ),
        training: bool,
    ) -> Result<
        (
            RecurrentOutput<B, T, H, E, D, Tp>,
            RecurrentOutput<B, T, H, E, D, Tp>,
        ),
        D::Err,
    > {
        let x_back = x.retaped::<Tp>();
        let fwd = self.forward.try_run(x, states.0, false, training)?;
        let bwd = self.backward.try_run(x_back, states.1, true, training)?;
        Ok((fwd, bwd))
    }

    /// Merges the two runs with `M`: every step `[B, T, O]`, and the final
    /// states `[B, O]` (the cell states are merged when both have one).
    pub fn try_merge<B: Dim, T: Dim, Tp: Tape<E, D>>(
        fwd: RecurrentOutput<B, T, H, E, D, Tp>,
        bwd: RecurrentOutput<B, T, H, E, D, Tp>,
    ) -> Result<RecurrentOutput<B, T, O, E, D, Tp>, D::Err> {
        let () = Self::SIZE_OK;
        let (output, mut tape) =
            M::merge_steps::<B, T, H, O, E, D, Tp>(fwd.output, bwd.output)?.split_tape();
        // The merged final states are recorded on the tape too, so that
        // `into_last` back-propagates through them.
        let mut merge_state = |a: Hidden<B, H, E, D>, b: Hidden<B, H, E, D>| {
            let (m, t) = M::merge_states::<B, H, O, E, D, Tp>(
                a.put_tape(Tp::default()),
                b.put_tape(Tp::default()),
            )?
            .split_tape();
            tape = std::mem::take(&mut tape).merge(t);
            Ok::<_, D::Err>(m)
        };
        let h_n = merge_state(fwd.h_n, bwd.h_n)?;
        let c_n = match (fwd.c_n, bwd.c_n) {
            (Some(a), Some(b)) => Some(merge_state(a, b)?),
            _ => None,
        };
        Ok(RecurrentOutput {
            output: output.put_tape(tape),
            h_n,
            c_n,
        })
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
        const O: usize,
        M: MergeMode,
    > Module<Tensor<(B, T, Const<I>), E, D, Tp>>
    for Bidirectional<Recurrent<I, H, K, E, D, R, P>, O, M>
{
    type Output = R::Output<B, T, O, E, D, Tp>;
    type Error = D::Err;

    /// Inference from zero states: `[B, T, I] -> [B, T, O]` or `[B, O]`.
    fn try_forward(&self, x: Tensor<(B, T, Const<I>), E, D, Tp>) -> Result<Self::Output, D::Err> {
        let (f, b) = self.try_run_both(x, (None, None), false)?;
        Ok(R::finish(Self::try_merge(f, b)?))
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
        const O: usize,
        M: MergeMode,
    > ModuleMut<Tensor<(B, T, Const<I>), E, D, Tp>>
    for Bidirectional<Recurrent<I, H, K, E, D, R, P>, O, M>
{
    type Output = R::Output<B, T, O, E, D, Tp>;
    type Error = D::Err;

    /// Training from zero states (input dropout on).
    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, T, Const<I>), E, D, Tp>,
    ) -> Result<Self::Output, D::Err> {
        let (f, b) = self.try_run_both(x, (None, None), true)?;
        Ok(R::finish(Self::try_merge(f, b)?))
    }
}
