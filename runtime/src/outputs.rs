//! [`MultiOutput`]: a model with several named, typed outputs (a VAE
//! encoder's `mu` and `logvar`, an autoencoder's code and reconstruction).
//!
//! `model!` implements it for a model that declares its outputs; the
//! associated `Outputs` type is a generated struct with one tensor field per
//! output, each with its compile-time shape. The model's ordinary
//! [`Model`] output stays its last layer's, so `fit`, `evaluate` and
//! `predict` work on it unchanged.

use dfdx::shapes::Dim;
use dfdx::tensor::{Tape, Tensor};

use crate::elem::Elem;
use crate::error::Result;
use crate::model::Model;
use crate::penalty::Penalties;
use crate::Backend;

/// A model with several named outputs, returned together as one typed value.
pub trait MultiOutput<E: Elem, D: Backend<E>>: Model<E, D> {
    /// The generated struct of outputs for a batch of `B` samples, each
    /// field a tensor carrying tape `T`.
    type Outputs<B: Dim, T: Tape<E, D>>;

    /// Inference forward returning every declared output.
    #[allow(clippy::type_complexity)]
    fn try_forward_outputs<B: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Self::Outputs<B, T>>;

    /// Training forward returning every declared output, collecting the
    /// model's penalty terms into `penalties`. Each output carries an empty
    /// tape of its own; the forward's tape is held by `penalties`, so a loss
    /// built from the outputs must pass through
    /// [`Penalties::attach_tape`] before `backward` (`fit_outputs` does).
    #[allow(clippy::type_complexity)]
    fn try_forward_outputs_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
        penalties: &mut Penalties<E, D, T>,
    ) -> Result<Self::Outputs<B, T>>;
}
