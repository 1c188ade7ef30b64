//! Optimizers, gradient clipping and learning-rate schedules.
//!
//! Every optimizer implements [`Optimizer`] for any model that is a dfdx
//! `TensorCollection`, so `fit` and user loops drive them the same way.

use dfdx::nn::TensorCollection;
use dfdx::tensor::Gradients;
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::Result;

/// One optimizer interface for the whole family (SGD .. Nadam).
pub trait Optimizer<M: TensorCollection<E, D>, E: Elem, D: Device<E>> {
    /// Applies one update to every trainable tensor of `model` using `grads`
    /// (as returned by `loss.backward()`).
    fn step(&mut self, model: &mut M, grads: &Gradients<E, D>) -> Result<()>;
    /// Current learning rate.
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: f64);
}
