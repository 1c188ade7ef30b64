//! Layers a `model!` expands to.
//!
//! The contract every layer here keeps (the macro relies on it):
//! * generic over `E: Elem` and `D: Backend<E>` only, so `Cpu` and `Cuda` share
//!   one path (a device picks its own kernels through [`Backend`](crate::Backend));
//! * `Module<Tensor<(B, ..), E, D, T>>` for any batch `B: Dim` and any tape `T`
//!   is **inference** (dropout off, batch norm uses running statistics);
//! * `ModuleMut<..>` for the same inputs is **training** (dropout on, batch
//!   statistics, running statistics updated);
//! * layers with parameters implement dfdx `TensorCollection` and are built by
//!   it; layers without parameters are plain values built with `new(..)` or
//!   `Default::default()`;
//! * sizes are const generics, and a layer asserts its own size arithmetic in
//!   an inline `const { assert!(..) }` so hand-written models are checked too.
//!
//! One file per layer family; add `pub mod` and `pub use` lines below.

pub mod activation;
pub mod adaptive_pool;
pub mod batchnorm;
pub mod bidirectional;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod dense;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod global_pool;
pub mod gru;
pub mod local_response_norm;
pub mod lstm;
pub mod merge;
pub mod pool;
pub mod recurrent;
pub mod simple_rnn;
pub mod stochastic_depth;
pub mod upsample;
pub mod zero_padding;

// Internals: the run-time geometry, the window and convolution cores and
// their device-generic paths. Crate-private; visible (and hidden from the
// docs) with the feature `internals-for-tests`, for the crate's own tests.
crate::internal_mod!(batchnorm_generic);
crate::internal_mod!(conv_generic);
crate::internal_mod!(conv_geom);
crate::internal_mod!(dense_generic);
crate::internal_mod!(im2col);
crate::internal_mod!(recurrent_generic);
crate::internal_mod!(window);
crate::internal_mod!(window_generic);
#[cfg(feature = "internals-for-tests")]
#[doc(hidden)]
pub use conv_geom::ConvGeom;

pub use activation::{GeLU, GeLUTanh, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Tanh};
pub use adaptive_pool::{AdaptiveAvgPool2d, AdaptiveMaxPool2d};
pub use batchnorm::{BatchNorm1d, BatchNorm2d};
pub use bidirectional::{Bidirectional, Concat, Mean, MergeMode, Sum};

pub use conv2d::{Conv2d, Conv2dNoBias};
pub use conv_transpose2d::ConvTranspose2d;
pub use dense::{Dense, DenseNoBias};
pub use dropout::Dropout;
pub use embedding::{check_tokens, Embedding};
pub use flatten::Flatten;
pub use global_pool::{GlobalAvgPool, GlobalMaxPool};
pub use gru::{Gru, GruCell};
pub use local_response_norm::LocalResponseNorm;
pub use lstm::{Lstm, LstmCell};
pub use pool::{AvgPool2d, MaxPool2d};
pub use recurrent::{
    AllSteps, CellKind, CellMath, CellParams, GateDim, Hidden, InitialState, LastStep, Recurrent,
    RecurrentOutput, ReturnMode,
};
pub use simple_rnn::{SimpleRnn, TanhCell};
pub use stochastic_depth::StochasticDepth;
pub use upsample::{UpSampling2d, UpSampling2dBilinear};
pub use zero_padding::ZeroPadding2d;
