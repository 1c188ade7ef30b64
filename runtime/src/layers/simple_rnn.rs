//! `SimpleRnn`: the Elman recurrent layer with tanh (PyTorch `nn.RNN`,
//! `nonlinearity = 'tanh'`; Keras `SimpleRNN`).
//!
//! Per step: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.
//! Input `[B, T, I]`; output `[B, T, H]` ([`AllSteps`](super::AllSteps)) or
//! `[B, H]` ([`LastStep`](super::LastStep)). Parameters `weight_ih_l0 [H, I]`,
//! `weight_hh_l0 [H, H]`, `bias_ih_l0 [H]`, `bias_hh_l0 [H]`.
//!
//! ```
//! use sxima_runtime::dfdx::nn::BuildModule;
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::layers::{LastStep, SimpleRnn};
//!
//! let dev = Cpu::default();
//! let rnn = <SimpleRnn<3, 5, f32, Cpu, LastStep> as BuildModule<Cpu, f32>>::build(&dev);
//! let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(2, 7, Const));
//! let h: Tensor<(usize, Const<5>), f32, _> = rnn.forward(x);
//! assert_eq!(h.shape().0, 2);
//! ```

use dfdx::prelude::*;

use super::recurrent::{
    gate, hidden_projection, AllSteps, CellKind, CellMath, GateDim, Hidden, Recurrent,
};
use crate::backend::Backend;
use crate::elem::Elem;

/// The tanh cell of [`SimpleRnn`] (one gate).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TanhCell;

impl CellKind for TanhCell {
    const GATES: usize = 1;
    const HAS_CELL: bool = false;
    const MATH: Option<CellMath> = Some(CellMath::Tanh);

    fn step<B: Dim, const H: usize, E: Elem, D: Backend<E>, Tp: Tape<E, D>>(
        xw: Tensor<(B, GateDim<Self, H>), E, D, Tp>,
        h: Hidden<B, H, E, D, Tp>,
        _c: Option<Hidden<B, H, E, D, Tp>>,
        w_hh: &Tensor<(GateDim<Self, H>, Const<H>), E, D>,
        b_hh: &Tensor<(GateDim<Self, H>,), E, D>,
    ) -> Result<(Hidden<B, H, E, D, Tp>, Option<Hidden<B, H, E, D, Tp>>), D::Err> {
        let z = xw.try_add(hidden_projection(h, w_hh, b_hh)?)?;
        Ok((gate::<B, _, H, E, D, Tp>(z, 0)?.try_tanh()?, None))
    }
}

/// Elman RNN with tanh: `[B, T, I] -> [B, T, H]` (or `[B, H]` with
/// `R = LastStep`); input dropout `DROPOUT_PPM` millionths in training.
pub type SimpleRnn<const I: usize, const H: usize, E, D, R = AllSteps, const DROPOUT_PPM: u32 = 0> =
    Recurrent<I, H, TanhCell, E, D, R, DROPOUT_PPM>;
