//! What a model's input holds: float features ([`Floats`]) or integer token
//! ids ([`Tokens`]), the [`Model::Kind`](crate::model::Model::Kind) of every
//! generated model. Generic code (`fit`, `evaluate`, `predict`) builds and
//! traces input batches through it, so one loop serves both.
//!
//! Host data is `f32` either way (a [`Dataset`](crate::data::Dataset) holds
//! token ids as whole numbers, exact below 2^24); [`Tokens::from_host`]
//! turns them into `usize` ids and rejects anything that is not one.

use core::fmt::Debug;

use dfdx::prelude::{Gradients, NoneTape, OwnedTape, Tensor, Trace};
use dfdx::shapes::{Dtype, Shape};
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::train::forward::to_elem;

/// The element of a model's input batch: `E` ([`Floats`]) or `usize` ([`Tokens`]).
pub trait InputKind: Debug + Default + Clone + Copy + Send + Sync + 'static {
    /// A batch tensor of shape `S` with tape `T` (element `E` or `usize`).
    type Tensor<S: Shape, E: Dtype, D: Device<E>, T>;

    /// `"features"` or `"token ids"`, for messages.
    const WHAT: &'static str;

    /// A batch from flat host values (`f32`, row-major), no tape.
    /// Errors: the device's, or (tokens) a value that is not a token id.
    fn from_host<S: Shape, E: Elem, D: Device<E>>(
        dev: &D,
        values: &[f32],
        shape: S,
    ) -> Result<Self::Tensor<S, E, D, NoneTape>>;

    /// The batch with a tape recording into `grads` (the training forward).
    fn traced<S: Shape, E: Elem, D: Device<E>>(
        x: Self::Tensor<S, E, D, NoneTape>,
        grads: Gradients<E, D>,
    ) -> Self::Tensor<S, E, D, OwnedTape<E, D>>;
}

/// Float features of the model's element type (every model without an `Embedding` input).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Floats;

/// Integer token ids (`usize`), declared `input: tokens[..]` and read by `Embedding`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tokens;

impl InputKind for Floats {
    type Tensor<S: Shape, E: Dtype, D: Device<E>, T> = Tensor<S, E, D, T>;
    const WHAT: &'static str = "features";

    fn from_host<S: Shape, E: Elem, D: Device<E>>(
        dev: &D,
        values: &[f32],
        shape: S,
    ) -> Result<Tensor<S, E, D>> {
        let x: Vec<E> = values.iter().map(|&v| to_elem(v)).collect();
        dev.try_tensor_from_vec(x, shape).dev()
    }

    fn traced<S: Shape, E: Elem, D: Device<E>>(
        x: Tensor<S, E, D>,
        grads: Gradients<E, D>,
    ) -> Tensor<S, E, D, OwnedTape<E, D>> {
        x.traced(grads)
    }
}

impl InputKind for Tokens {
    type Tensor<S: Shape, E: Dtype, D: Device<E>, T> = Tensor<S, usize, D, T>;
    const WHAT: &'static str = "token ids";

    fn from_host<S: Shape, E: Elem, D: Device<E>>(
        dev: &D,
        values: &[f32],
        shape: S,
    ) -> Result<Tensor<S, usize, D>> {
        let ids = token_ids(values)?;
        dev.try_tensor_from_vec(ids, shape).dev()
    }

    fn traced<S: Shape, E: Elem, D: Device<E>>(
        x: Tensor<S, usize, D>,
        grads: Gradients<E, D>,
    ) -> Tensor<S, usize, D, OwnedTape<E, D>> {
        <Tensor<S, usize, D> as Trace<E, D>>::traced(x, grads)
    }
}

/// Whole non-negative numbers as token ids; the first other value is an error.
pub fn token_ids(values: &[f32]) -> Result<Vec<usize>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0 {
                Ok(v as usize)
            } else {
                Err(Error::data(
                    format_args!("token ids (value {i})"),
                    "a whole number from 0 to 2^24",
                    format!("{v}"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    #[test]
    fn tokens_are_whole_numbers_and_floats_pass_through() {
        let dev = Cpu::default();
        let t = <Tokens as InputKind>::from_host::<_, f32, Cpu>(&dev, &[0.0, 3.0, 7.0], (3usize,))
            .expect("ids");
        assert_eq!(t.as_vec(), vec![0, 3, 7]);
        for bad in [1.5f32, -1.0, f32::NAN] {
            let e = <Tokens as InputKind>::from_host::<_, f32, Cpu>(&dev, &[2.0, bad], (2usize,))
                .expect_err("not an id")
                .to_string();
            assert!(e.contains("value 1"), "{e}");
        }
        let f = <Floats as InputKind>::from_host::<_, f32, Cpu>(&dev, &[0.5, -2.0], (2usize,))
            .expect("floats");
        assert_eq!(f.as_vec(), vec![0.5, -2.0]);
    }
}
