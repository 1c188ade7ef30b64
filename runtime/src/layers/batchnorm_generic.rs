//! The device-generic batch norm: the composition of dfdx ops that
//! [`Backend::batch_norm_train`](crate::backend::Backend::batch_norm_train) and
//! [`Backend::batch_norm_infer`](crate::backend::Backend::batch_norm_infer)
//! run by default (`Cuda`), and the reference the CPU kernel is tested
//! against. Conventions (PyTorch's) in [`crate::layers::batchnorm`].

use dfdx::prelude::*;

use crate::backend::Backend;
use crate::elem::{cast, Elem};

/// Training forward over the reduced axes `Ax` (every axis but the channel
/// axis): `x [N, C, ..] -> [N, C, ..]` normalised with the batch mean and
/// biased variance, then `scale * xhat + bias`; updates the running
/// statistics (`running = (1 - momentum) * running + momentum * batch`, the
/// unbiased variance `n / (n - 1)` for `running_var`).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train_generic<const C: usize, S, Ax, E, D, T>(
    x: Tensor<S, E, D, T>,
    scale: &Tensor<Rank1<C>, E, D>,
    bias: &Tensor<Rank1<C>, E, D>,
    running_mean: &mut Tensor<Rank1<C>, E, D>,
    running_var: &mut Tensor<Rank1<C>, E, D>,
    eps: f64,
    momentum: f64,
) -> Result<Tensor<S, E, D, T>, D::Err>
where
    S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
    Ax: Axes,
    E: Elem,
    D: Backend<E>,
    T: Tape<E, D>,
{
    let shape = *x.shape();
    let n = <S as HasAxes<Ax>>::size(&shape) as f64;

    let mean = x.retaped::<T>().try_mean::<Rank1<C>, Ax>()?;
    running_mean.try_axpy(1.0 - momentum, &mean, momentum)?;
    let centered = x.try_sub(mean.try_broadcast_like::<S, Ax>(&shape)?)?;

    let var = centered
        .retaped::<T>()
        .try_square()?
        .try_mean::<Rank1<C>, Ax>()?;
    running_var.try_axpy(1.0 - momentum, &var, momentum * unbias_factor(n))?;

    let std = var.try_add(cast::<E>(eps))?.try_sqrt()?;
    let gain = scale
        .retaped::<T>()
        .try_div(std)?
        .try_broadcast_like::<S, Ax>(&shape)?;
    let shift = bias.retaped::<T>().try_broadcast_like::<S, Ax>(&shape)?;
    centered.try_mul(gain)?.try_add(shift)
}

/// `n / (n - 1)`, the factor from the biased to the unbiased variance of `n`
/// values. With a single value per channel it is undefined (PyTorch refuses
/// such a batch); it is then 1, so the running variance is fed the biased
/// one (zero) instead of a NaN.
pub fn unbias_factor(n: f64) -> f64 {
    if n > 1.0 {
        n / (n - 1.0)
    } else {
        1.0
    }
}

/// Inference forward with the running statistics:
/// `(x - running_mean) * scale / sqrt(running_var + eps) + bias`
/// (gradients reach `x`, `scale` and `bias` when `x` carries a tape).
pub fn batch_norm_infer_generic<const C: usize, S, Ax, E, D, T>(
    x: Tensor<S, E, D, T>,
    scale: &Tensor<Rank1<C>, E, D>,
    bias: &Tensor<Rank1<C>, E, D>,
    running_mean: &Tensor<Rank1<C>, E, D>,
    running_var: &Tensor<Rank1<C>, E, D>,
    eps: f64,
) -> Result<Tensor<S, E, D, T>, D::Err>
where
    S: Shape,
    Rank1<C>: BroadcastShapeTo<S, Ax>,
    Ax: Axes,
    E: Elem,
    D: Backend<E>,
    T: Tape<E, D>,
{
    let shape = *x.shape();
    let std = running_var.clone().try_add(cast::<E>(eps))?.try_sqrt()?;
    let gain = scale
        .retaped::<T>()
        .try_div(std)?
        .try_broadcast_like::<S, Ax>(&shape)?;
    let shift = bias.retaped::<T>().try_broadcast_like::<S, Ax>(&shape)?;
    let centered = x.try_sub(running_mean.clone().try_broadcast_like::<S, Ax>(&shape)?)?;
    centered.try_mul(gain)?.try_add(shift)
}
