//! `sxima-runtime`: everything that runs behind a `model!` declaration.
//!
//! * [`analysis`]: PCA and k-NN accuracy of codes (autoencoder baselines).
//! * [`layers`]: the layers dfdx 0.13 lacks on stable Rust (or whose semantics
//!   we need to differ), each generic over the dfdx device.
//! * [`model`]: the [`Model`](model::Model) trait every generated model implements.
//! * [`forward`]: the [`Forward`] trait behind a generated model's `forward`.
//! * [`loss`], [`optim`]: losses and optimizers behind one trait each.
//! * [`penalty`]: penalty terms a model adds to its training loss
//!   (activity L1, KL sparsity, contractive, the VAE's KL) and their collector.
//! * [`outputs`]: [`MultiOutput`](outputs::MultiOutput), models with several typed outputs.
//! * [`error`]: the run-time error type ([`Error`], `#[non_exhaustive]`, typed variants).
//! * [`backend`]: [`Backend`], the device bound through which a device chooses
//!   its kernels (generic dfdx compositions by default, CPU kernels on `Cpu`).
//! * [`elem`]: the element-type bound [`Elem`] and the one `f64` → element
//!   conversion ([`elem::cast`]).
//! * [`host_alloc`]: [`tune_host_allocator`], opt-in malloc tuning for CPU training.

/// Declares an internal module: `pub(crate)`, or `pub` and `#[doc(hidden)]`
/// with the feature `internals-for-tests` (enabled only by this workspace's
/// own tests, benches and examples through their dev-dependencies).
macro_rules! internal_mod {
    ($name:ident) => {
        #[cfg(feature = "internals-for-tests")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals-for-tests"))]
        pub(crate) mod $name;
    };
}
pub(crate) use internal_mod;

pub mod analysis;
pub mod backend;
pub mod data;
pub mod elem;
pub mod error;
pub mod forward;
pub mod host_alloc;
pub mod input;
mod kernels;
pub mod layers;
pub mod loss;
pub mod model;
pub mod optim;
pub mod outputs;
pub mod penalty;
pub mod train;

pub use backend::Backend;
pub use dfdx;
pub use elem::Elem;
pub use error::{Error, Result};
pub use forward::Forward;
pub use host_alloc::tune_host_allocator;
pub use model::{LayerSummary, Model, ModelInfo, ModelSummary};
