//! Penalty terms added to a model's training loss: activity regularisers
//! (L1, KL sparsity), the contractive penalty and the VAE's KL divergence.
//!
//! A `model!` declaration attaches them to named layers; the generated
//! training forward ([`Model::try_forward_mut_penalized`](crate::Model::try_forward_mut_penalized))
//! pushes one [`PenaltyTerm`] per attachment into a [`Penalties`] collector,
//! and `fit` adds `weight * value` of each to the loss and logs each term
//! under its name. Every function here is written with dfdx tensor ops, so
//! autodiff gives its gradient on `Cpu` and `Cuda` alike; each is checked
//! against PyTorch by the fixture harness.
//!
//! All functions take a batch flattened to `(batch, features)`.

mod activity;
pub mod attach;
mod contractive;
mod gaussian;

pub use activity::{activity_l1, sparsity_kl};
pub use attach::standard_normal_like;
pub use contractive::contractive_sigmoid_dense;
pub use gaussian::{gaussian_kl, reparameterize};

use dfdx::shapes::Rank0;
use dfdx::tensor::{NoneTape, PutTape, SplitTape, Tape, Tensor};
use dfdx::tensor_ops::Device;

use crate::elem::Elem;

/// One penalty of a training forward: `weight * value` joins the loss.
pub struct PenaltyTerm<E: Elem, D: Device<E>, T = NoneTape> {
    /// Dotted name for logs and the history: the layer's path and the
    /// penalty, e.g. `code.sparsity_kl`, `encoder.z.kl`.
    pub name: String,
    /// The factor the value is multiplied by in the loss.
    pub weight: f64,
    /// The unweighted penalty, a scalar carrying the tape of the forward.
    pub value: Tensor<Rank0, E, D, T>,
}

/// The penalty terms collected during one training forward, in the order
/// the forward met them.
///
/// It also holds the tape of a multi-output forward
/// ([`MultiOutput::try_forward_outputs_mut`](crate::outputs::MultiOutput::try_forward_outputs_mut)):
/// there every output carries an empty tape of its own, so a loss over any
/// subset of the outputs reaches every layer once [`attach_tape`](Penalties::attach_tape)
/// (which `fit_outputs` calls) joins the forward's operations to it.
pub struct Penalties<E: Elem, D: Device<E>, T = NoneTape> {
    terms: Vec<PenaltyTerm<E, D, T>>,
    forward_tape: Option<T>,
}

impl<E: Elem, D: Device<E>, T: Tape<E, D>> Default for Penalties<E, D, T> {
    fn default() -> Self {
        Self {
            terms: Vec::new(),
            forward_tape: None,
        }
    }
}

impl<E: Elem, D: Device<E>, T: Tape<E, D>> Penalties<E, D, T> {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `weight * value` under `name`.
    pub fn push(&mut self, name: impl Into<String>, weight: f64, value: Tensor<Rank0, E, D, T>) {
        self.terms.push(PenaltyTerm {
            name: name.into(),
            weight,
            value,
        });
    }

    /// Keeps the tape of a training forward whose outputs were handed out
    /// with empty tapes (merged with any tape held already).
    pub fn hold_tape(&mut self, tape: T) {
        self.forward_tape = Some(match self.forward_tape.take() {
            Some(held) => held.merge(tape),
            None => tape,
        });
    }

    /// `loss` with the held forward tape (if any) joined to its own, so its
    /// backward reaches every layer of the forward; the collector keeps no
    /// tape afterwards. A loss built from a multi-output forward's outputs
    /// must pass through this before `backward`.
    pub fn attach_tape(&mut self, loss: Tensor<Rank0, E, D, T>) -> Tensor<Rank0, E, D, T> {
        join_tape(loss, self.forward_tape.take())
    }

    /// Moves the terms of `inner` (a nested model's) in, each name prefixed
    /// with `prefix.` (the nested model's field name).
    pub fn extend_prefixed(&mut self, prefix: &str, inner: Penalties<E, D, T>) {
        if let Some(tape) = inner.forward_tape {
            self.hold_tape(tape);
        }
        for mut t in inner.terms {
            t.name = format!("{prefix}.{}", t.name);
            self.terms.push(t);
        }
    }

    /// The terms collected so far.
    pub fn terms(&self) -> &[PenaltyTerm<E, D, T>] {
        &self.terms
    }

    /// Whether no term was collected.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The collected terms, by value.
    pub fn into_terms(self) -> Vec<PenaltyTerm<E, D, T>> {
        self.terms
    }

    /// The terms and the held forward tape (the collector taken apart).
    pub(crate) fn into_parts(self) -> (Vec<PenaltyTerm<E, D, T>>, Option<T>) {
        (self.terms, self.forward_tape)
    }
}

/// `loss` with `held` (a forward's tape, if any) merged into its own tape.
pub(crate) fn join_tape<E: Elem, D: Device<E>, T: Tape<E, D>>(
    loss: Tensor<Rank0, E, D, T>,
    held: Option<T>,
) -> Tensor<Rank0, E, D, T> {
    match held {
        Some(held) => {
            let (loss, tape) = loss.split_tape();
            loss.put_tape(tape.merge(held))
        }
        None => loss,
    }
}
