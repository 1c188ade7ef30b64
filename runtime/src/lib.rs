//! `sxima-runtime`: everything that runs behind a `model!` declaration.
//!
//! * [`layers`]: the layers dfdx 0.13 lacks on stable Rust (or whose semantics
//!   we need to differ), each generic over the dfdx device.
//! * [`model`]: the [`Model`](model::Model) trait every generated model implements.
//! * [`forward`]: the [`Forward`] trait behind a generated model's `forward`.
//! * [`loss`], [`optim`]: losses and optimizers behind one trait each.
//! * [`error`]: the run-time error type.

pub mod backend;
pub mod data;
pub mod elem;
pub mod error;
pub mod forward;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod model;
pub mod optim;
pub mod train;

pub use backend::Backend;
pub use dfdx;
pub use elem::Elem;
pub use error::{Error, Result};
pub use forward::Forward;
pub use model::{LayerSummary, Model, ModelInfo, ModelSummary};
