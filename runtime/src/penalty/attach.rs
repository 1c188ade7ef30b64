//! The steps `model!`'s generated training forward takes to attach a
//! penalty to a layer and to sample a Gaussian code: each reads a layer's
//! output of any per-sample shape, flattens it to `(batch, features)` and
//! calls the penalty functions of this module's parent.
//!
//! Each penalty is computed on a fork of the layer's output (same tensor id,
//! an empty tape of its own), so the forward's own tape stays on the main
//! path and the penalty's operations join it when `fit` adds the terms to
//! the loss.

use dfdx::prelude::*;
use rand_distr::Uniform;

use super::Penalties;
use super::{activity_l1, contractive_sigmoid_dense, gaussian_kl, reparameterize, sparsity_kl};
use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Result};

/// `x` `(batch, d1, d2, ..)` as `(batch, d1 * d2 * ..)` (same data; the
/// reshape is on the tape).
pub fn flat<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<(usize, usize), E, D, T>> {
    let dims = x.shape().concrete();
    let dims = dims.as_ref();
    let batch = dims.first().copied().unwrap_or(1);
    let features = dims.iter().skip(1).product();
    x.try_reshape_like(&(batch, features)).dev()
}

/// [`activity_l1`] of a layer's output `x` (any per-sample shape).
pub fn activity_l1_on<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: &Tensor<S, E, D, T>,
) -> Result<Tensor<Rank0, E, D, T>> {
    activity_l1(flat(x.with_empty_tape())?)
}

/// [`sparsity_kl`] of a layer's output `h` (any per-sample shape) with
/// target mean activation `rho`.
pub fn sparsity_kl_on<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    h: &Tensor<S, E, D, T>,
    rho: f64,
) -> Result<Tensor<Rank0, E, D, T>> {
    sparsity_kl(flat(h.with_empty_tape())?, rho)
}

/// [`contractive_sigmoid_dense`] of `h = sigmoid(dense(x))` `(batch, O)` and
/// the dense layer's `weight` `[O, I]`. The weight's reshape is recorded on
/// the penalty's tape, so its gradient reaches the parameter itself.
pub fn contractive_on<
    B: Dim,
    const O: usize,
    const I: usize,
    E: Elem,
    D: Device<E>,
    T: Tape<E, D>,
>(
    h: &Tensor<(B, Const<O>), E, D, T>,
    weight: &Tensor<(Const<O>, Const<I>), E, D>,
) -> Result<Tensor<Rank0, E, D, T>> {
    let h = flat(h.with_empty_tape())?;
    let (h, tape) = h.split_tape();
    let w = weight
        .clone()
        .put_tape(tape)
        .try_reshape_like(&(O, I))
        .dev()?;
    let (w, tape) = w.split_tape();
    contractive_sigmoid_dense(h.put_tape(tape), w)
}

/// Standard normal noise of shape `shape` from `dev`'s seeded generator
/// (Box–Muller on two uniform draws: [`Elem`] guarantees uniform sampling,
/// not a normal distribution, for every element type). A device seeded
/// the same way draws the same noise.
pub fn standard_normal_like<S: Shape, E: Elem, D: Device<E>>(
    dev: &D,
    shape: &S,
) -> Result<Tensor<S, E, D>> {
    // u1 in (0, 1): ln(u1) is finite.
    let u1 = dev
        .try_sample_like(shape, Uniform::new(E::min_positive_value(), E::one()))
        .dev()?;
    let u2 = dev
        .try_sample_like(shape, Uniform::new(E::zero(), E::one()))
        .dev()?;
    let radius = u1
        .try_ln()
        .dev()?
        .try_mul(cast::<E>(-2.0))
        .dev()?
        .try_sqrt()
        .dev()?;
    let angle = u2
        .try_mul(cast::<E>(2.0 * std::f64::consts::PI))
        .dev()?
        .try_cos()
        .dev()?;
    radius.try_mul(angle).dev()
}

/// What a Gaussian code's training forward gives: the sample and forks of
/// both heads.
pub struct GaussianSample<S: Shape, E: Elem, D: Device<E>, T> {
    /// `mu + exp(logvar / 2) * eps`, carrying the tapes of both heads.
    pub z: Tensor<S, E, D, T>,
    /// The mean head's output (same tensor id, an empty tape).
    pub mu: Tensor<S, E, D, T>,
    /// The log-variance head's output (same tensor id, an empty tape).
    pub logvar: Tensor<S, E, D, T>,
}

/// The training forward of a VAE's Gaussian code:
/// `z = mu + exp(logvar / 2) * eps` with `eps` standard normal from `mu`'s
/// device ([`standard_normal_like`]), and, when `kl` is given, the term
/// [`gaussian_kl`]`(mu, logvar)` pushed into the collector under its name
/// with its weight.
///
/// `mu`, `logvar`: `(batch, ..)` of one shape; the first carries the
/// forward's tape, the second a tape of its own (a fork's).
pub fn gaussian_sample<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    mu: Tensor<S, E, D, T>,
    logvar: Tensor<S, E, D, T>,
    kl: Option<(&mut Penalties<E, D, T>, &str, f64)>,
) -> Result<GaussianSample<S, E, D, T>> {
    let shape = *mu.shape();
    let (mu_out, logvar_out) = (mu.with_empty_tape(), logvar.with_empty_tape());
    if let Some((penalties, name, weight)) = kl {
        let value = gaussian_kl(flat(mu.with_empty_tape())?, flat(logvar.with_empty_tape())?)?;
        penalties.push(name, weight, value);
    }
    let dev = mu.device().clone();
    let mu = flat(mu)?;
    let eps = standard_normal_like(&dev, mu.shape())?;
    let z = reparameterize(mu, flat(logvar)?, eps)?;
    Ok(GaussianSample {
        z: z.try_reshape_like(&shape).dev()?,
        mu: mu_out,
        logvar: logvar_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_noise_is_seeded_and_standard() {
        let draw = |seed| {
            let dev = Cpu::seed_from_u64(seed);
            standard_normal_like::<_, f64, _>(&dev, &(200usize, 50usize))
                .unwrap()
                .as_vec()
        };
        let a = draw(3);
        assert_eq!(a, draw(3));
        assert_ne!(a, draw(4));
        let n = a.len() as f64;
        let mean = a.iter().sum::<f64>() / n;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        // 10,000 draws: the mean's standard error is 0.01.
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.06, "variance {var}");
        assert!(a.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn flat_keeps_the_batch_and_multiplies_the_rest() {
        let dev = Cpu::default();
        let x: Tensor<Rank4<2, 3, 4, 5>, f32, _> = dev.sample_normal();
        let f = flat(x.clone()).unwrap();
        assert_eq!(*f.shape(), (2, 60));
        assert_eq!(f.as_vec(), x.as_vec());
    }

    #[test]
    fn contractive_weight_gradient_reaches_the_parameter() {
        let dev = Cpu::seed_from_u64(1);
        let w: Tensor<Rank2<3, 4>, f64, _> = dev.sample_normal();
        let h: Tensor<Rank2<2, 3>, f64, _> = dev.sample_uniform();
        let grads = w.alloc_grads();
        let p = contractive_on(&h.clone().traced(grads), &w).unwrap();
        let g = p.backward();
        // d/dW_ji of mean_b sum_j s_bj * sum_i W_ji^2 = 2 W_ji mean_b s_bj.
        let (hv, wv) = (h.as_vec(), w.as_vec());
        let gw = g.get(&w).as_vec();
        for j in 0..3 {
            let s: f64 = (0..2)
                .map(|b| {
                    let v = hv[b * 3 + j];
                    (v * (1.0 - v)).powi(2)
                })
                .sum::<f64>()
                / 2.0;
            for i in 0..4 {
                let want = 2.0 * wv[j * 4 + i] * s;
                assert!((gw[j * 4 + i] - want).abs() < 1e-12, "{j},{i}");
            }
        }
    }
}
