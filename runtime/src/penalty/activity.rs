//! Activity regularisers on a layer's output: L1 (Keras'
//! `activity_regularizer=l1`) and the KL sparsity penalty of a sigmoid code.

use dfdx::prelude::*;

use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Result};

/// L1 activity penalty: the mean over the batch of `sum_j |a_j|`.
///
/// `a`: `(batch, features)`; returns a scalar. Gradient `sign(a) / batch`
/// (0 at 0, as PyTorch).
pub fn activity_l1<E: Elem, D: Device<E>, T: Tape<E, D>>(
    a: Tensor<(usize, usize), E, D, T>,
) -> Result<Tensor<Rank0, E, D, T>> {
    a.try_abs()
        .dev()?
        .try_sum::<(usize,), Axis<1>>()
        .dev()?
        .try_mean::<Rank0, _>()
        .dev()
}

/// KL sparsity penalty of a sparse autoencoder: with `rho_hat_j` the mean of
/// unit `j` over the batch, `sum_j rho ln(rho / rho_hat_j) + (1 - rho)
/// ln((1 - rho) / (1 - rho_hat_j))`, summed over the units.
///
/// `h`: `(batch, units)`, activations in (0, 1) (a sigmoid's output);
/// `rho`: the target mean activation, in (0, 1). `rho_hat` is clamped to
/// `[1e-7, 1 - 1e-7]` so a saturated unit gives a large finite penalty, not
/// infinity.
pub fn sparsity_kl<E: Elem, D: Device<E>, T: Tape<E, D>>(
    h: Tensor<(usize, usize), E, D, T>,
    rho: f64,
) -> Result<Tensor<Rank0, E, D, T>> {
    let units = h.shape().1;
    let rho_hat = h
        .try_mean::<(usize,), Axis<0>>()
        .dev()?
        .try_clamp(1e-7, 1.0 - 1e-7)
        .dev()?;
    let (rho_hat, tape) = rho_hat.split_tape();
    // rho ln rho + (1 - rho) ln(1 - rho) - rho ln rho_hat - (1 - rho) ln(1 - rho_hat)
    let constant = if rho > 0.0 && rho < 1.0 {
        rho * rho.ln() + (1.0 - rho) * (1.0 - rho).ln()
    } else {
        0.0
    };
    // Each term is computed on the tape (an op on a tensor whose tape was
    // split off is not recorded), then the tape moves to the next.
    let log_hat = rho_hat
        .clone()
        .put_tape(tape)
        .try_ln()
        .dev()?
        .try_mul(cast::<E>(-rho))
        .dev()?;
    let (log_hat, tape) = log_hat.split_tape();
    let terms = rho_hat
        .put_tape(tape)
        .try_negate()
        .dev()?
        .try_add(cast::<E>(1.0))
        .dev()?
        .try_ln()
        .dev()?
        .try_mul(cast::<E>(rho - 1.0))
        .dev()?
        .try_add(log_hat)
        .dev()?;
    terms
        .try_sum::<Rank0, _>()
        .dev()?
        .try_add(cast::<E>(constant * units as f64))
        .dev()
}
