//! # sxima
//!
//! Deep learning in Rust with models whose shapes are checked by the compiler.
//! Write a network inside [`model!`]; the macro infers every layer's shape,
//! turns each mismatch into a compile error on the offending layer, and
//! expands to plain const-generic dfdx types.

pub use sxima_macros::model;
pub use sxima_runtime as runtime;
pub use sxima_runtime::dfdx;

/// Everything a user of `model!` and `fit` needs in scope.
pub mod prelude {
    pub use crate::model;
    pub use dfdx::prelude::*;
    pub use sxima_runtime::layers;
    pub use sxima_runtime::model::{LayerSummary, Model, ModelInfo, ModelSummary};
    pub use sxima_runtime::Elem;
}

/// Paths the generated code names; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use dfdx;
    pub use sxima_runtime;
}
