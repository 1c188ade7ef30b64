//! `Gru`: gated recurrent unit, in PyTorch's form (`RESET_AFTER = true`,
//! `nn.GRU`, Keras `reset_after = True`) or the original Cho et al. (2014)
//! form (`RESET_AFTER = false`).
//!
//! Gate order `(r, z, n)`, two bias vectors, `hx = W_h* h + b_h*`:
//! * `RESET_AFTER = true`: `r = σ(W_ir x + b_ir + hx_r)`,
//!   `z = σ(W_iz x + b_iz + hx_z)`, `n = tanh(W_in x + b_in + r * hx_n)`,
//!   `h_t = (1 - z) * n + z * h_{t-1}`.
//! * `RESET_AFTER = false` (Cho et al.): `r`, `z` as above,
//!   `n = tanh(W_in x + b_in + W_hn (r * h_{t-1}) + b_hn)` (reset before the
//!   matmul) and `h_t = (1 - z) * h_{t-1} + z * n` (`z` weighs the candidate).
//!   A single-bias formulation `W_z [h, x] + b_z` maps to `W_hz = W_z[:, :H]`,
//!   `W_iz = W_z[:, H:]`, `b_iz = b_z`, `b_hz = 0` (likewise r and n).
//!
//! Input `[B, T, I]`; output `[B, T, H]` ([`AllSteps`](super::AllSteps)) or
//! `[B, H]` ([`LastStep`](super::LastStep)). Parameters `weight_ih_l0 [3H, I]`,
//! `weight_hh_l0 [3H, H]`, `bias_ih_l0 [3H]`, `bias_hh_l0 [3H]`.
//!
//! ```
//! use sxima_runtime::dfdx::nn::BuildModule;
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::layers::{Gru, LastStep};
//!
//! let dev = Cpu::default();
//! // Cho et al.'s form, returning the last state.
//! let gru = <Gru<3, 4, f32, Cpu, LastStep, 0, false> as BuildModule<Cpu, f32>>::build(&dev);
//! let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(2, 6, Const));
//! let h: Tensor<(usize, Const<4>), f32, _> = gru.forward(x);
//! assert_eq!(h.shape().0, 2);
//! ```

use dfdx::prelude::*;

use super::recurrent::{
    gate, hidden_projection, AllSteps, CellKind, CellMath, GateDim, Hidden, Recurrent,
};
use crate::backend::Backend;
use crate::elem::Elem;

/// The GRU cell; `RESET_AFTER` picks PyTorch's form (`true`) or Cho et al.'s.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GruCell<const RESET_AFTER: bool = true>;

impl<const RESET_AFTER: bool> CellKind for GruCell<RESET_AFTER> {
    const GATES: usize = 3;
    const HAS_CELL: bool = false;
    const MATH: Option<CellMath> = if RESET_AFTER {
        Some(CellMath::GruResetAfter)
    } else {
        None
    };

    fn step<B: Dim, const H: usize, E: Elem, D: Backend<E>, Tp: Tape<E, D>>(
        xw: Tensor<(B, GateDim<Self, H>), E, D, Tp>,
        h: Hidden<B, H, E, D, Tp>,
        _c: Option<Hidden<B, H, E, D, Tp>>,
        w_hh: &Tensor<(GateDim<Self, H>, Const<H>), E, D>,
        b_hh: &Tensor<(GateDim<Self, H>,), E, D>,
    ) -> Result<(Hidden<B, H, E, D, Tp>, Option<Hidden<B, H, E, D, Tp>>), D::Err> {
        let hx = hidden_projection(h.retaped::<Tp>(), w_hh, b_hh)?;
        let r = gate::<B, _, H, E, D, Tp>(xw.retaped::<Tp>().try_add(hx.retaped::<Tp>())?, 0)?
            .try_sigmoid()?;
        let z = gate::<B, _, H, E, D, Tp>(xw.retaped::<Tp>().try_add(hx.retaped::<Tp>())?, 1)?
            .try_sigmoid()?;
        let xn = gate::<B, _, H, E, D, Tp>(xw, 2)?;
        let h_new = if RESET_AFTER {
            let n = xn
                .try_add(r.try_mul(gate::<B, _, H, E, D, Tp>(hx, 2)?)?)?
                .try_tanh()?;
            // (1 - z) * n + z * h = n + z * (h - n)
            n.retaped::<Tp>().try_add(z.try_mul(h.try_sub(n)?)?)?
        } else {
            let hr = hidden_projection(r.try_mul(h.retaped::<Tp>())?, w_hh, b_hh)?;
            // `hx` (the un-reset projection) only fed r and z.
            let (_, t_hx) = hx.split_tape();
            let n = xn.try_add(gate::<B, _, H, E, D, Tp>(hr, 2)?)?.try_tanh()?;
            // (1 - z) * h + z * n = h + z * (n - h)
            let h_new = h.retaped::<Tp>().try_add(z.try_mul(n.try_sub(h)?)?)?;
            let (h_new, t) = h_new.split_tape();
            h_new.put_tape(t.merge(t_hx))
        };
        Ok((h_new, None))
    }
}

/// GRU: `[B, T, I] -> [B, T, H]` (or `[B, H]` with `R = LastStep`); input
/// dropout `DROPOUT_PPM` millionths in training; `RESET_AFTER = false` for
/// Cho et al.'s form.
pub type Gru<
    const I: usize,
    const H: usize,
    E,
    D,
    R = AllSteps,
    const DROPOUT_PPM: u32 = 0,
    const RESET_AFTER: bool = true,
> = Recurrent<I, H, GruCell<RESET_AFTER>, E, D, R, DROPOUT_PPM>;
