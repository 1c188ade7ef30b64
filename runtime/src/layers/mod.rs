//! Layers a `model!` expands to.
//!
//! The contract every layer here keeps (the macro relies on it):
//! * generic over `E: Elem` and `D: Device<E>` only, so `Cpu` and `Cuda` share one path;
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
pub mod conv2d;
pub mod conv_geom;
pub mod conv_transpose2d;
pub mod dense;
pub mod flatten;
pub mod im2col;

pub use activation::{LeakyReLU, ReLU, Sigmoid, Softmax, Tanh};
pub use conv2d::{Conv2d, Conv2dNoBias};
pub use conv_geom::ConvGeom;
pub use conv_transpose2d::ConvTranspose2d;
pub use dense::{Dense, DenseNoBias};
pub use flatten::Flatten;
