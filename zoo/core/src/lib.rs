//! What the zoo's per-architecture crates (`zoo/<name>/`) share.
//!
//! Each architecture of [`sxima::zoo`] lives in a crate of its own, which
//! defines the generic model type with [`model!`] and compiles its `f32` /
//! `Cpu` instantiation once, behind the non-generic [`DynModel`] interface.
//! A program that runs all ten models (the zoo example) then calls plain
//! functions and monomorphises none of them itself, so editing one
//! architecture recompiles that architecture's crate, not all ten
//! (measurements in `docs/compile_time.md`).
//!
//! [`sxima::zoo`]: https://docs.rs/sxima/latest/sxima/zoo/

mod dyn_model;

pub use dfdx::prelude::Cpu;
pub use dyn_model::{BoxedModel, DynModel, ZooEntry};

/// `model!` for a crate that cannot depend on the facade `sxima` (the
/// facade depends on it): the same proc-macro, with generated paths that
/// start at this crate's `__private`.
#[macro_export]
macro_rules! model {
    ($($items:tt)*) => {
        $crate::__private::model_with_crate! { [$crate] $($items)* }
    };
}

/// The paths generated code uses (`<crate>::__private::{dfdx, sxima_runtime}`).
#[doc(hidden)]
pub mod __private {
    pub use dfdx;
    pub use sxima_macros::__model as model_with_crate;
    pub use sxima_runtime;
}
