//! # sxima
//!
//! Deep learning in Rust with models whose shapes are checked by the compiler.
//! Write a network inside [`model!`]; the macro infers every layer's shape,
//! turns each mismatch into a compile error on the offending layer, and
//! expands to plain const-generic dfdx types that [`train::fit()`] trains on
//! CPU or CUDA.
//!
//! The five steps of an application, each a runnable example below:
//! **define** a model, **train** it, **save** it, **load** it (in another
//! process), **predict** with class probabilities. `examples/embed.rs` is all
//! five in one small program. Everything is in [`prelude`].
//!
//! ## 1. Define
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
//!
//! `forward` takes exactly the model's batch tensor `(batch, 1, 28, 28)`; any
//! other tensor is one compile error, "`Mlp` takes a batch of shape (batch, 1,
//! 28, 28)". Generic code writes one bound, [`Model`](prelude::Model), to
//! build, train, evaluate, predict and run any generated model:
//!
//! ```
//! use sxima::prelude::*;
//!
//! fn train<M: Model<f32, Cpu>>(data: &Dataset) -> sxima::Result<M> {
//!     let mut model = M::build(&Cpu::seed_from_u64(0));
//!     let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..Default::default() })?;
//!     let config = FitConfig::new().epochs(1).verbosity(sxima::train::Verbosity::Silent);
//!     fit(&mut model, &mut opt, &SparseCrossEntropy, data, config, &mut [])?;
//!     Ok(model)
//! }
//!
//! model! {
//!     pub Tiny(input: [2]) { fc: Dense(2) }
//! }
//!
//! let data = Dataset::new(vec![0.0, 1.0, 1.0, 0.0], &[2], Targets::Classes(vec![0, 1]))?;
//! let model: Tiny = train(&data)?;
//! let x = Cpu::default().zeros_like(&Tiny::<f32, Cpu>::input_shape(1usize));
//! assert_eq!(model.try_forward(x)?.shape().0, 1);
//! # Ok::<(), sxima::Error>(())
//! ```
//!
//! ## 2. Train
//!
//! A [`data::Dataset`] holds flat `f32` features with a per-sample shape and
//! targets (class labels here); NaN or infinite values are an error naming
//! the sample and feature. [`train::fit()`] trains in the manner of Keras.
//! (The MNIST digits load with `mnist::load_default()`, see [`data::mnist`].)
//!
//! ```
//! use sxima::prelude::*;
//!
//! model! {
//!     pub Blobs(input: [2]) { fc1: Dense(16), ReLU, fc2: Dense(2) }
//! }
//!
//! // Two clusters: class 0 around (-1, -1), class 1 around (1, 1).
//! let xs: Vec<f32> = (0..200).flat_map(|i| {
//!     let c = if i % 2 == 0 { -1.0 } else { 1.0 };
//!     [c + 0.01 * (i % 7) as f32, c - 0.01 * (i % 5) as f32]
//! }).collect();
//! let labels: Vec<usize> = (0..200).map(|i| i % 2).collect();
//! let data = Dataset::with_classes(xs, &[2], labels)?;
//! assert_eq!(data.label(1), Some(1));
//!
//! let dev = Cpu::seed_from_u64(0);
//! let mut model = Blobs::<f32, Cpu>::build(&dev);
//! let mut opt = Adam::new(AdamConfig { lr: 1e-2, ..Default::default() })?;
//! let config = FitConfig::new().epochs(5).batch_size(20).silent();
//! let history = fit(&mut model, &mut opt, &SparseCrossEntropy, &data, config, &mut [])?;
//! assert!(history.epochs.last().unwrap().loss < history.epochs[0].loss);
//!
//! // Bad data is an error, not a NaN model.
//! let bad = Dataset::with_classes(vec![0.0, f32::NAN], &[2], vec![0]);
//! assert_eq!(
//!     bad.unwrap_err().to_string(),
//!     "features: sample 0, feature 1 is NaN (NaN and infinity are not valid data)"
//! );
//! # Ok::<(), sxima::Error>(())
//! ```
//!
//! ## 3. Save
//!
//! [`ModelFile::save`](prelude::ModelFile::save) writes a safetensors file,
//! atomically, recording the model's name, input/output shape, parameter
//! count and a checksum per tensor.
//!
//! ```
//! use sxima::prelude::*;
//! # model! { pub Blobs(input: [2]) { fc1: Dense(16), ReLU, fc2: Dense(2) } }
//!
//! let model = Blobs::<f32, Cpu>::build(&Cpu::seed_from_u64(0));
//! let path = std::env::temp_dir().join(format!("sxima-doc-save-{}.safetensors", std::process::id()));
//! model.save(&path)?;
//! let meta = sxima::train::checkpoint::read_metadata(&path)?;
//! assert_eq!(meta["sxima.model"], "Blobs");
//! assert_eq!(meta["sxima.param_count"], (2 * 16 + 16 + 16 * 2 + 2).to_string());
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), sxima::Error>(())
//! ```
//!
//! ## 4. Load
//!
//! [`ModelFile::load`](prelude::ModelFile::load) returns the typed model;
//! another model's file, a corrupted tensor or NaN weights are errors.
//!
//! ```
//! use sxima::prelude::*;
//! # model! { pub Blobs(input: [2]) { fc1: Dense(16), ReLU, fc2: Dense(2) } }
//! model! { pub Wide(input: [2]) { fc1: Dense(32), ReLU, fc2: Dense(2) } }
//!
//! let dev = Cpu::seed_from_u64(0);
//! let path = std::env::temp_dir().join(format!("sxima-doc-load-{}.safetensors", std::process::id()));
//! let saved = Blobs::<f32, Cpu>::build(&dev);
//! saved.save(&path)?;
//!
//! let loaded = Blobs::<f32, Cpu>::load(&path, &dev)?;
//! assert_eq!(loaded.fc1.weight.as_vec(), saved.fc1.weight.as_vec());
//!
//! let err = Wide::<f32, Cpu>::load(&path, &dev).unwrap_err().to_string();
//! assert!(err.ends_with(
//!     "this file holds a `Blobs` (input [2], output [2], 82 params), \
//!      not a `Wide` (input [2], output [2], 162 params)"
//! ), "{err}");
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), sxima::Error>(())
//! ```
//!
//! ## 5. Predict
//!
//! A [`train::Predictor`] owns or borrows the model, checks each input's
//! length and values, and answers outputs, probabilities and the top classes.
//!
//! ```
//! use sxima::prelude::*;
//! # model! { pub Blobs(input: [2]) { fc1: Dense(16), ReLU, fc2: Dense(2) } }
//!
//! let model = Blobs::<f32, Cpu>::build(&Cpu::seed_from_u64(0));
//! let predictor = Predictor::borrowing(&model);
//! let p = predictor.predict_proba(&[0.5, -0.5])?;
//! assert_eq!(p.len(), 2);
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! let top = predictor.top_k(&[0.5, -0.5], 1)?;
//! assert_eq!(top[0].1, p[0].max(p[1]));
//!
//! assert!(predictor.predict_proba(&[0.5]).is_err()); // wrong length
//! let err = predictor.predict_proba(&[f32::INFINITY, 0.0]).unwrap_err();
//! assert_eq!(err.to_string(), "predict input: sample 0, feature 0 is inf (NaN and infinity are not valid data)");
//! # Ok::<(), sxima::Error>(())
//! ```

/// Declares one or more neural network models whose shapes are checked at
/// compile time. The DSL (layers, arguments, shapes) is documented on
/// [`sxima_macros::model`]; this wrapper passes sxima's own crate path to the
/// proc-macro, so the generated code also compiles when sxima is a renamed
/// dependency (`nn = { package = "sxima", .. }`, then `nn::model! { .. }`).
///
/// ```
/// use sxima::prelude::*;
///
/// model! {
///     /// A small classifier for 28x28 digits.
///     pub Mlp(input: [1, 28, 28]) {
///         Flatten,
///         fc1: Dense(64),
///         ReLU,
///         fc2: Dense(10),
///     }
/// }
///
/// let dev = Cpu::seed_from_u64(0);
/// let model = Mlp::<f32, Cpu>::build(&dev);
/// let x: Tensor<Rank4<2, 1, 28, 28>, f32, Cpu> = dev.zeros();
/// let y: Tensor<Rank2<2, 10>, f32, Cpu> = model.forward(x);
/// # let _ = y;
/// ```
///
/// Per model it also generates `forward` / `try_forward` (inference) and
/// `forward_mut` / `try_forward_mut` (training) methods: the documented way to
/// run a model. They take exactly the model's batch tensor
/// `Tensor<(B, dims..), E, D, _>` (any batch size `B`, with or without a
/// tape); any other tensor is one short compile error naming the shape the
/// model takes. `try_*` return [`Result`](crate::Result); `forward` and
/// `forward_mut` panic on a device error (out of memory), as dfdx's do.
///
/// A `#[derive(Debug)]` or `#[derive(Clone)]` written on a model is accepted:
/// the macro then leaves that derive to the user's attribute.
#[macro_export]
macro_rules! model {
    ($($items:tt)*) => {
        $crate::__private::model_with_crate! { [$crate] $($items)* }
    };
}

pub use sxima_runtime as runtime;
pub use sxima_runtime::dfdx;
pub use sxima_runtime::{analysis, data, layers, loss, optim, train, Error, Result};

#[cfg(feature = "zoo")]
pub mod zoo;

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
    pub use sxima_runtime::train::{
        evaluate, fit, predict, predict_one, Callback, EarlyStopping, FitConfig, History,
        ModelCheckpoint, Predictor,
    };
    pub use sxima_runtime::train::{LoadOptions, ModelFile};
    pub use sxima_runtime::{Backend, Elem, Error, Forward};
}

/// Paths the generated code names; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use dfdx;
    pub use sxima_macros::__model as model_with_crate;
    pub use sxima_runtime;
}

/// The README's example, compiled as a doc test so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
