//! # sxima
//!
//! Deep learning in Rust with models whose shapes are checked by the compiler.
//! Write a network inside [`model!`]; the macro infers every layer's shape,
//! turns each mismatch into a compile error on the offending layer, and
//! expands to plain const-generic dfdx types that [`train::fit`] trains on
//! CPU or CUDA.
//!
//! ```
//! use sxima::prelude::*;
//!
//! model! {
//!     /// A small classifier for 28x28 digits.
//!     pub Mlp(input: [1, 28, 28]) {
//!         Flatten,
//!         fc1: Dense(64),
//!         ReLU,
//!         fc2: Dense(10),
//!     }
//! }
//!
//! // Shapes and parameter counts are compile-time constants.
//! const PARAMS: usize = <Mlp as ModelInfo>::PARAM_COUNT;
//! assert_eq!(PARAMS, 784 * 64 + 64 + 64 * 10 + 10);
//!
//! let dev = Cpu::seed_from_u64(0);
//! let model = Mlp::<f32, Cpu>::build(&dev);
//! let x: Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, Cpu> =
//!     dev.zeros_like(&(3, Const, Const, Const));
//! let y: Tensor<(usize, Const<10>), f32, Cpu> = model.forward(x);
//! assert_eq!(y.shape().0, 3);
//! ```

pub use sxima_macros::model;
pub use sxima_runtime as runtime;
pub use sxima_runtime::dfdx;
pub use sxima_runtime::{data, layers, loss, optim, train, Error, Result};

/// Everything a user of `model!` and `fit` needs in scope.
///
/// Brings dfdx's prelude (tensors, shapes, devices, `Module`) and sxima's
/// names; where both define a name (`Sgd`, `Adam`, `Optimizer`, ...) sxima's
/// wins.
pub mod prelude {
    pub use crate::model;
    pub use dfdx::prelude::*;
    pub use sxima_runtime::data::{mnist, Dataset, Targets};
    pub use sxima_runtime::layers;
    pub use sxima_runtime::loss::{
        Bce, BceWithLogits, CrossEntropy, Huber, KlDivergence, Loss, Mae, Mse, SparseCrossEntropy,
        Target,
    };
    pub use sxima_runtime::model::{LayerSummary, Model, ModelInfo, ModelSummary};
    pub use sxima_runtime::optim::{
        Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig,
        Clip, EpsPlacement, MomentumForm, Nadam, NadamConfig, Optimizer, RmsProp, RmsPropConfig,
        Sgd, SgdConfig,
    };
    pub use sxima_runtime::train::checkpoint::{LoadOptions, ModelFile};
    pub use sxima_runtime::train::{
        evaluate, fit, predict, predict_one, Callback, EarlyStopping, FitConfig, History,
        ModelCheckpoint, Predictor,
    };
    pub use sxima_runtime::{Elem, Error};
}

/// Paths the generated code names; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use dfdx;
    pub use sxima_runtime;
}

/// The README's example, compiled as a doc test so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
