//! [`Forward`]: running a generated model on a batch, the one entry point
//! `model.forward(x)` goes through, with a short error for a wrong tensor.
//!
//! `model!` implements `Forward<Tensor<(B, dims..), E, D, T>>` for each model
//! `Net<E, D>`, for every batch dimension `B` and tape `T`, and nothing else;
//! the model's inherent `forward` / `forward_mut` / `try_forward` /
//! `try_forward_mut` methods take any `X` for which it holds. A tensor without
//! the batch axis, or of another rank, size, dtype or device, therefore fails
//! on one bound with one message (the model's own, which names its shape)
//! instead of a screen of dfdx `Const<..>` types.

use crate::error::Result;

/// A model that runs on inputs of type `X` (a batch tensor): inference with
/// [`try_forward`](Forward::try_forward) (dropout off, batch-norm running
/// statistics), training with [`try_forward_mut`](Forward::try_forward_mut)
/// (dropout on, batch statistics updated; pass a traced tensor to record
/// gradients).
///
/// Implemented by `model!` for `Tensor<(B, d1, .., dn), E, D, T>` where
/// `[d1, .., dn]` is the model's `INPUT_SHAPE`. Generic code over any model
/// writes `M: Model<E, D>` and calls [`Model::try_forward`](crate::Model::try_forward)
/// instead; this trait is for code generic over the input type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take `{X}` as input",
    label = "not this model's input",
    note = "a model takes `Tensor<(batch, ..INPUT_SHAPE), E, D>` with its own element type `E` and device `D`"
)]
pub trait Forward<X> {
    /// The output batch tensor, on the same tape as the input.
    type Output;

    /// Inference forward (dropout off, batch norm uses running statistics).
    /// Errors: a device error (out of memory, CUDA).
    fn try_forward(&self, x: X) -> Result<Self::Output>;

    /// Training forward (dropout on, batch-norm statistics updated).
    /// Errors: a device error (out of memory, CUDA).
    fn try_forward_mut(&mut self, x: X) -> Result<Self::Output>;
}

/// A type with no values. `Forward<Unreachable>` holds for every type, so
/// that `M: Forward<X>` never has a single impl to infer `X` from: rustc then
/// checks the argument against the bound and reports this trait's message,
/// not a long type mismatch. Not an input anyone can pass.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Unreachable {}

#[diagnostic::do_not_recommend]
impl<M> Forward<Unreachable> for M {
    type Output = Unreachable;
    fn try_forward(&self, x: Unreachable) -> Result<Unreachable> {
        match x {}
    }
    fn try_forward_mut(&mut self, x: Unreachable) -> Result<Unreachable> {
        match x {}
    }
}
