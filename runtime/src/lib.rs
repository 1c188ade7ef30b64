//! `sxima-runtime`: everything that runs behind a `model!` declaration.
//!
//! * [`layers`]: the layers dfdx 0.13 lacks on stable Rust (or whose semantics
//!   we need to differ), each generic over the dfdx device.
//! * [`model`]: the [`Model`](model::Model) trait every generated model implements.
//! * [`elem`]: the element-type bound shared by all layers.

pub mod elem;
pub mod layers;
pub mod model;

pub use dfdx;
pub use elem::Elem;
pub use model::{LayerSummary, Model, ModelSummary};
