//! Loss functions.
//!
//! `fit` flattens a model's output to `(batch, n)` before the loss, so every
//! loss takes a `Tensor<(usize, usize), E, D, T>` prediction and a [`Target`].

use dfdx::prelude::{Rank0, Tape, Tensor};
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::Result;

/// What a batch's predictions are compared with.
pub enum Target<'a, E: Elem, D: Device<E>> {
    /// Values of the same shape as the prediction (regression, one-hot, probabilities).
    Values(&'a Tensor<(usize, usize), E, D>),
    /// One class index per sample (sparse categorical cross-entropy, accuracy).
    Classes(&'a [usize]),
}

/// A loss: a scalar (mean over the batch) with a gradient.
pub trait Loss<E: Elem, D: Device<E>> {
    /// Short name for logs and history columns (`"mse"`, `"cross_entropy"`).
    fn name(&self) -> &'static str;
    /// The mean loss over the batch. Errors (not panics) on a target of the
    /// wrong kind or shape, or a class label out of range.
    fn try_loss<T: Tape<E, D>>(
        &self,
        pred: Tensor<(usize, usize), E, D, T>,
        target: &Target<'_, E, D>,
    ) -> Result<Tensor<Rank0, E, D, T>>;
}
