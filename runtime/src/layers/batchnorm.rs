//! Batch normalisation: `BatchNorm1d<C>` for `(B, C)` / `(B, C, L)` and
//! `BatchNorm2d<C>` for `(B, C, H, W)`, with PyTorch's conventions.
//!
//! * Parameters (trainable): `scale` and `bias` `[C]`, visited as `weight`
//!   and `bias` (PyTorch's names, so checkpoints read the same); initialised
//!   to one and zero.
//! * Running statistics `running_mean` (0) and `running_var` (1), visited as
//!   non-trainable (`TensorOptions::detached`): saved, loaded and moved
//!   between devices, but never touched by an optimizer.
//! * Training (`ModuleMut`, any tape): normalise with the batch mean and the
//!   *biased* batch variance over every axis but `C`, then
//!   `running = (1 - momentum) * running + momentum * batch`, where the
//!   variance fed to the running estimate is the *unbiased* one (`n / (n-1)`).
//! * Inference (`Module`, any tape): normalise with the running statistics;
//!   gradients (if the input is traced) flow to the input, `scale` and `bias`.
//!
//! `eps = 1e-5`, `momentum = 0.1` (PyTorch defaults; Keras's `momentum=0.99`
//! is PyTorch's `0.01`). Both are public fields, set together by
//! `with_eps_momentum` (what `model!` writes for `BatchNorm2d(eps = ..)`).
//!
//! The maths runs in the device's
//! [`Backend::batch_norm_train`] / [`Backend::batch_norm_infer`] (the dfdx
//! composition of `layers::batchnorm_generic` by default, one-pass kernels
//! on `Cpu`).

use dfdx::nn::{Module, ModuleMut, ModuleVisitor, TensorCollection, TensorOptions};
use dfdx::prelude::*;

use crate::backend::Backend;
use crate::elem::Elem;

/// PyTorch's default `eps`.
pub const BATCH_NORM_EPS: f64 = 1e-5;
/// PyTorch's default `momentum` (weight of the new batch statistic).
pub const BATCH_NORM_MOMENTUM: f64 = 0.1;

macro_rules! batch_norm_struct {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<const C: usize, E: Dtype, D: Storage<E>> {
            /// Affine gain `[C]` (PyTorch `weight`), initialised to 1.
            pub scale: Tensor<Rank1<C>, E, D>,
            /// Affine shift `[C]`, initialised to 0.
            pub bias: Tensor<Rank1<C>, E, D>,
            /// Running mean `[C]` used at inference, initialised to 0.
            pub running_mean: Tensor<Rank1<C>, E, D>,
            /// Running variance `[C]` used at inference, initialised to 1.
            pub running_var: Tensor<Rank1<C>, E, D>,
            /// Added to the variance before the square root.
            pub epsilon: f64,
            /// Weight of the new batch statistic in the running average.
            pub momentum: f64,
        }

        impl<const C: usize, E: Dtype, D: Storage<E>> $name<C, E, D> {
            /// The layer with `eps` (added to the variance) and `momentum`
            /// (weight of the new batch statistic), as PyTorch's arguments.
            pub fn with_eps_momentum(self, eps: f64, momentum: f64) -> Self {
                Self {
                    epsilon: eps,
                    momentum,
                    ..self
                }
            }
        }

        impl<const C: usize, E: Elem, D: Device<E>> TensorCollection<E, D> for $name<C, E, D> {
            type To<E2: Dtype, D2: Device<E2>> = $name<C, E2, D2>;

            fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
                visitor: &mut V,
            ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
                visitor.visit_fields(
                    (
                        Self::tensor(
                            "weight",
                            |s| &s.scale,
                            |s| &mut s.scale,
                            TensorOptions::reset_to_ones(),
                        ),
                        Self::tensor(
                            "bias",
                            |s| &s.bias,
                            |s| &mut s.bias,
                            TensorOptions::reset_to_zeros(),
                        ),
                        Self::tensor(
                            "running_mean",
                            |s| &s.running_mean,
                            |s| &mut s.running_mean,
                            TensorOptions::detached(|t| t.try_fill_with_zeros()),
                        ),
                        Self::tensor(
                            "running_var",
                            |s| &s.running_var,
                            |s| &mut s.running_var,
                            TensorOptions::detached(|t| t.try_fill_with_ones()),
                        ),
                    ),
                    |(scale, bias, running_mean, running_var)| $name {
                        scale,
                        bias,
                        running_mean,
                        running_var,
                        epsilon: BATCH_NORM_EPS,
                        momentum: BATCH_NORM_MOMENTUM,
                    },
                )
            }
        }
    };
}

/// Implements `Module` (inference) and `ModuleMut` (training) for one input
/// shape, reducing over the axes `$ax`.
macro_rules! batch_norm_impl {
    ($name:ident, ($($dim:ident),*), $shape:ty, $ax:ty) => {
        impl<B: Dim, $($dim: Dim,)* const C: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>
            Module<Tensor<$shape, E, D, T>> for $name<C, E, D>
        {
            type Output = Tensor<$shape, E, D, T>;
            type Error = D::Err;

            fn try_forward(&self, x: Tensor<$shape, E, D, T>) -> Result<Self::Output, D::Err> {
                D::batch_norm_infer::<C, $shape, $ax, T>(
                    x,
                    &self.scale,
                    &self.bias,
                    &self.running_mean,
                    &self.running_var,
                    self.epsilon,
                )
            }
        }

        impl<B: Dim, $($dim: Dim,)* const C: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>
            ModuleMut<Tensor<$shape, E, D, T>> for $name<C, E, D>
        {
            type Output = Tensor<$shape, E, D, T>;
            type Error = D::Err;

            fn try_forward_mut(&mut self, x: Tensor<$shape, E, D, T>) -> Result<Self::Output, D::Err> {
                D::batch_norm_train::<C, $shape, $ax, T>(
                    x,
                    &self.scale,
                    &self.bias,
                    &mut self.running_mean,
                    &mut self.running_var,
                    self.epsilon,
                    self.momentum,
                )
            }
        }
    };
}

batch_norm_struct!(
    /// Batch norm over features: `(B, C) -> (B, C)` and `(B, C, L) -> (B, C, L)`
    /// (statistics over `B`, resp. `B` and `L`). PyTorch `nn.BatchNorm1d(C)`.
    BatchNorm1d
);
batch_norm_struct!(
    /// Batch norm over channels: `(B, C, H, W) -> (B, C, H, W)` (statistics
    /// over `B`, `H`, `W`). PyTorch `nn.BatchNorm2d(C)`.
    BatchNorm2d
);

batch_norm_impl!(BatchNorm1d, (), (B, Const<C>), Axis<0>);
batch_norm_impl!(BatchNorm1d, (L), (B, Const<C>, L), Axes2<0, 2>);
batch_norm_impl!(BatchNorm2d, (H, W), (B, Const<C>, H, W), Axes3<0, 2, 3>);
