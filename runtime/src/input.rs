//! Token-id inputs: how a model declared `input: tokens[..]` (an `Embedding`
//! first) gets its ids.
//!
//! Its own forward (`net.forward(x)`) takes `usize` tensors, so floats do not
//! compile there. Generic code (`fit`, `evaluate`, `predict`, any
//! `M: Model<E, D>`) moves float batches, as a [`Dataset`](crate::data::Dataset)
//! holds them: the model's [`Model`](crate::model::Model) forwards take the ids
//! as whole numbers of `E` and turn them into `usize` ids with
//! [`tokens_from_floats`], which rejects anything that is not an id below the
//! vocabulary (an [`Error`], never a panic).

use dfdx::prelude::{HasShape, PutTape, SplitTape, Tape, Tensor};
use dfdx::shapes::Shape;
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::layers::check_tokens;

/// Whole non-negative numbers below 2^24 (exact in `f32`) as token ids; the
/// first other value is an error.
pub fn token_ids<E: Elem>(values: &[E]) -> Result<Vec<usize>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = num_traits::ToPrimitive::to_f64(&v).unwrap_or(f64::NAN);
            if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 16_777_216.0 {
                Ok(f as usize)
            } else {
                Err(Error::data(
                    format_args!("token ids (value {i})"),
                    "a whole number from 0 to 2^24",
                    format!("{f}"),
                ))
            }
        })
        .collect()
}

/// A batch of token ids written as numbers of `E` (any shape `S`, its tape
/// kept) as `usize` ids, each checked to be below the vocabulary `V`.
pub fn tokens_from_floats<const V: usize, S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, usize, D, T>> {
    let ids = token_ids(&x.as_vec())?;
    check_tokens::<V>(&ids)?;
    let shape = *x.shape();
    let dev = x.device().clone();
    let (_, tape) = x.split_tape();
    Ok(dev.try_tensor_from_vec(ids, shape).dev()?.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    #[test]
    fn ids_are_whole_numbers_below_the_vocabulary() {
        let dev = Cpu::default();
        let x = dev.tensor([0.0f32, 3.0, 7.0]);
        assert_eq!(
            tokens_from_floats::<8, _, _, _, _>(x)
                .expect("ids")
                .as_vec(),
            vec![0, 3, 7]
        );
        for bad in [1.5f32, -1.0, f32::NAN] {
            let e = tokens_from_floats::<8, _, _, _, _>(dev.tensor([2.0f32, bad]))
                .expect_err("not an id")
                .to_string();
            assert!(e.contains("value 1"), "{e}");
        }
        let e = tokens_from_floats::<8, _, _, _, _>(dev.tensor([2.0f32, 8.0]))
            .expect_err("8 of a vocabulary of 8")
            .to_string();
        assert!(e.contains("token 8"), "{e}");
    }
}
