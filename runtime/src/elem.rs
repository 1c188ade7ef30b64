//! The bound on element types that every sxima layer accepts.

use dfdx::shapes::Dtype;

/// A floating-point element type a model can be built with (`f32`, `f64`).
///
/// This is the one bound generated code writes on its dtype parameter, so that
/// every layer's impl (dfdx's `Linear` needs `Float + SampleUniform`) is
/// satisfied by `E: Elem` alone.
pub trait Elem:
    Dtype
    + num_traits::Float
    + rand_distr::uniform::SampleUniform
    + dfdx::tensor::safetensors::SafeDtype
{
}

impl<E> Elem for E where
    E: Dtype
        + num_traits::Float
        + rand_distr::uniform::SampleUniform
        + dfdx::tensor::safetensors::SafeDtype
{
}
