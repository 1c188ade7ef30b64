//! Data for training: an in-memory [`Dataset`] (features as flat `f32` with a
//! per-sample shape, targets as values or class labels), seeded mini-batch
//! iteration, normalisation helpers and readers for IDX files (MNIST).
//!
//! * [`dataset`]: [`Dataset`] and [`Targets`], validated constructors, splits.
//! * [`batch`]: [`Batch`], [`Batches`] and the seeded shuffle.
//! * [`normalize`]: [`Standardizer`] and min-max scaling.
//! * [`idx`]: the IDX file format (gzip or plain).
//! * [`mnist`]: the bundled 10,000-digit MNIST subset and full MNIST files.
//! * [`fact_recall`]: the lecture's long-term-dependency sentences (tokens).

pub mod batch;
pub mod dataset;
pub mod fact_recall;
pub mod idx;
pub mod mnist;
pub mod normalize;

pub use batch::{permutation, Batch, Batches};
pub use dataset::{Dataset, Targets};
pub use normalize::Standardizer;
