//! `Lstm`: long short-term memory (PyTorch `nn.LSTM`, Keras `LSTM`).
//!
//! Gate order `(i, f, g, o)` as PyTorch, two bias vectors:
//! `i = σ(W_ii x + b_ii + W_hi h + b_hi)`, `f = σ(..f..)`, `g = tanh(..g..)`,
//! `o = σ(..o..)`; `c_t = f * c_{t-1} + i * g`; `h_t = o * tanh(c_t)`.
//! Input `[B, T, I]`; output `[B, T, H]` ([`AllSteps`](super::AllSteps)) or
//! `[B, H]` ([`LastStep`](super::LastStep)). Parameters `weight_ih_l0 [4H, I]`,
//! `weight_hh_l0 [4H, H]`, `bias_ih_l0 [4H]`, `bias_hh_l0 [4H]`. An initial
//! `h0`/`c0` goes through [`Recurrent::try_run`](super::Recurrent::try_run).
//!
//! ```
//! use sxima_runtime::dfdx::nn::BuildModule;
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::layers::{InitialState, Lstm};
//!
//! let dev = Cpu::default();
//! let lstm = <Lstm<3, 4, f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
//! let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(2, 6, Const));
//! let y: Tensor<(usize, usize, Const<4>), f32, _> = lstm.forward(x.clone());
//! assert_eq!(y.shape().1, 6);
//! // From a given state, also returning the final h and c:
//! let h0 = dev.zeros_like(&(2, Const::<4>));
//! let run = lstm.try_run(x, Some(InitialState { h0, c0: None }), false, false).unwrap();
//! assert!(run.c_n.is_some());
//! ```

use dfdx::prelude::*;

use super::recurrent::{
    gate, hidden_projection, AllSteps, CellKind, CellMath, GateDim, Hidden, Recurrent,
};
use crate::backend::Backend;
use crate::elem::Elem;

/// The LSTM cell (four gates, a cell state).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LstmCell;

impl CellKind for LstmCell {
    const GATES: usize = 4;
    const HAS_CELL: bool = true;
    const MATH: Option<CellMath> = Some(CellMath::Lstm);

    fn step<B: Dim, const H: usize, E: Elem, D: Backend<E>, Tp: Tape<E, D>>(
        xw: Tensor<(B, GateDim<Self, H>), E, D, Tp>,
        h: Hidden<B, H, E, D, Tp>,
        c: Option<Hidden<B, H, E, D, Tp>>,
        w_hh: &Tensor<(GateDim<Self, H>, Const<H>), E, D>,
        b_hh: &Tensor<(GateDim<Self, H>,), E, D>,
    ) -> Result<(Hidden<B, H, E, D, Tp>, Option<Hidden<B, H, E, D, Tp>>), D::Err> {
        let c = match c {
            Some(c) => c,
            None => {
                let dev = h.device().clone();
                dev.try_zeros_like(h.shape())?.put_tape(Tp::default())
            }
        };
        let z = xw.try_add(hidden_projection(h, w_hh, b_hh)?)?;
        let i = gate::<B, _, H, E, D, Tp>(z.retaped(), 0)?.try_sigmoid()?;
        let f = gate::<B, _, H, E, D, Tp>(z.retaped(), 1)?.try_sigmoid()?;
        let g = gate::<B, _, H, E, D, Tp>(z.retaped(), 2)?.try_tanh()?;
        let o = gate::<B, _, H, E, D, Tp>(z, 3)?.try_sigmoid()?;
        let c_new = f.try_mul(c)?.try_add(i.try_mul(g)?)?;
        let h_new = o.try_mul(c_new.retaped::<Tp>().try_tanh()?)?;
        Ok((h_new, Some(c_new)))
    }
}

/// LSTM: `[B, T, I] -> [B, T, H]` (or `[B, H]` with `R = LastStep`); input
/// dropout `DROPOUT_PPM` millionths in training.
pub type Lstm<const I: usize, const H: usize, E, D, R = AllSteps, const DROPOUT_PPM: u32 = 0> =
    Recurrent<I, H, LstmCell, E, D, R, DROPOUT_PPM>;
