//! Tools for looking at what a model learned: [`Pca`] (the linear baseline
//! for an autoencoder's code), k-nearest-neighbour accuracy
//! ([`knn_accuracy`]) of codes as a measure of how well they separate the
//! classes, and [`plot_codes`], scatters of 2-D codes coloured by class.
//! Plain `f32` slices in, row-major, so any code (a model's output gathered
//! with `predict`, PCA's projection) can be compared.

mod knn;
mod pca;
mod scatter;

pub use knn::{knn_accuracy, knn_predict};
pub use pca::Pca;
pub use scatter::{plot_codes, plot_codes_size};
