//! The VAE's Gaussian code: the reparameterisation trick and the KL
//! divergence to the standard normal prior.

use dfdx::prelude::*;

use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Result};

/// `z = mu + exp(logvar / 2) * eps`: a sample of `N(mu, exp(logvar))` that
/// is differentiable in `mu` and `logvar`.
///
/// `mu`, `logvar`, `eps`: `(batch, latent)`; `eps` is standard normal noise
/// (the caller draws it from the seeded device, `dev.sample_normal_like`).
/// Both `mu` and `logvar` must carry a tape for both to get a gradient:
/// ops on a tape-less tensor are not recorded. From one forward tape, pass
/// `mu` with it and `logvar.retaped()` (an empty tape of its own, merged
/// here); `logvar` with `NoneTape` gets no gradient.
pub fn reparameterize<E: Elem, D: Device<E>, T, T2: Tape<E, D>>(
    mu: Tensor<(usize, usize), E, D, T>,
    logvar: Tensor<(usize, usize), E, D, T2>,
    eps: Tensor<(usize, usize), E, D>,
) -> Result<Tensor<(usize, usize), E, D, T>>
where
    T: Tape<E, D> + Merge<T2>,
{
    let std = logvar
        .try_mul(cast::<E>(0.5))
        .dev()?
        .try_exp()
        .dev()?
        .try_mul(eps)
        .dev()?;
    mu.try_add(std).dev()
}

/// `KL(N(mu, exp(logvar)) || N(0, I))` per sample,
/// `-1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))`, summed over the
/// latent units and averaged over the batch (the ELBO's regulariser).
///
/// `mu`, `logvar`: `(batch, latent)`; both need a tape to get a gradient
/// (e.g. the forward's on `logvar`, `mu.retaped()`): a tape-less `mu` gets
/// no gradient from the KL.
pub fn gaussian_kl<E: Elem, D: Device<E>, T, T2: Tape<E, D>>(
    mu: Tensor<(usize, usize), E, D, T2>,
    logvar: Tensor<(usize, usize), E, D, T>,
) -> Result<Tensor<Rank0, E, D, T>>
where
    T: Tape<E, D> + Merge<T2>,
{
    let (lv, tape) = logvar.split_tape();
    let exp = lv.clone().put_tape(tape).try_exp().dev()?;
    let (exp, tape) = exp.split_tape();
    // (1 + logvar - exp(logvar)) - mu^2, per element
    let inner = lv
        .put_tape(tape)
        .try_add(cast::<E>(1.0))
        .dev()?
        .try_sub(exp)
        .dev()?
        .try_sub(mu.try_square().dev()?)
        .dev()?;
    inner
        .try_sum::<(usize,), Axis<1>>()
        .dev()?
        .try_mean::<Rank0, _>()
        .dev()?
        .try_mul(cast::<E>(-0.5))
        .dev()
}
