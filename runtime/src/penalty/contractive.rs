//! The contractive autoencoder's penalty (Rifai et al. 2011) for a sigmoid
//! dense encoder, in closed form.

use dfdx::prelude::*;

use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Result};

/// Squared Frobenius norm of the encoder's Jacobian `dh/dx`, averaged over
/// the batch, for `h = sigmoid(x W^T + b)`:
/// `mean_b sum_j (h_bj (1 - h_bj))^2 * sum_i W_ji^2`.
///
/// `h`: the encoder's output `(batch, units)`, carrying the tape of the
/// forward that made it; `weight`: the encoder's weight `(units, inputs)`
/// in PyTorch's dense layout (a `Dense` layer's `weight`). The gradient
/// reaches `x`, `W` and `b` through `h`, and `W` directly.
pub fn contractive_sigmoid_dense<E: Elem, D: Device<E>, T: Tape<E, D>>(
    h: Tensor<(usize, usize), E, D, T>,
    weight: Tensor<(usize, usize), E, D>,
) -> Result<Tensor<Rank0, E, D, T>> {
    let (b, units) = *h.shape();
    let (h, tape) = h.split_tape();
    // sum_i W_ji^2 per unit, broadcast over the batch, all on the forward's
    // tape so W gets its share. (An op on a tensor whose tape was split off
    // is not recorded: every op below runs on the tape.)
    let w2 = weight
        .put_tape(tape)
        .try_square()
        .dev()?
        .try_sum::<(usize,), Axis<1>>()
        .dev()?
        .try_broadcast_like::<_, Axis<0>>(&(b, units))
        .dev()?;
    let (w2, tape) = w2.split_tape();
    // (h (1 - h))^2 = (h - h^2)^2
    let h_sq = h.clone().put_tape(tape).try_square().dev()?;
    let (h_sq, tape) = h_sq.split_tape();
    let slope = h.put_tape(tape).try_sub(h_sq).dev()?.try_square().dev()?;
    slope
        .try_mul(w2)
        .dev()?
        .try_sum::<Rank0, _>()
        .dev()?
        .try_mul(cast::<E>(1.0 / b.max(1) as f64))
        .dev()
}
