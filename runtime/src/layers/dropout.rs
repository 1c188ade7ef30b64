//! `Dropout`: inverted dropout, active only in the training forward.
//!
//! Shape in = shape out, any rank. Unlike dfdx's `Dropout`, which ties
//! training to the tape type, this follows the sxima layer contract:
//! `Module` (any tape) is inference and returns the input unchanged;
//! `ModuleMut` (any tape) is training: each value is zeroed with probability
//! `p` (drawn from the device RNG) and the kept ones are scaled by `1/(1-p)`,
//! so the expected value is unchanged (PyTorch's and Keras's convention).

use dfdx::nn::{Module, ModuleMut};
use dfdx::prelude::{Shape, Tape, Tensor};
use dfdx::tensor_ops::TryMul;

use crate::backend::Backend;
use crate::elem::Elem;

/// Inverted dropout with drop probability `p`.
///
/// `p <= 0` never drops; `p >= 1` drops everything (the output is zero, as in
/// PyTorch). The `model!` macro only accepts `0 <= p < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// Probability of zeroing each value in training.
    pub p: f64,
}

impl Dropout {
    /// Dropout that zeroes each value with probability `p` during training.
    pub const fn new(p: f64) -> Self {
        Self { p }
    }
}

impl Default for Dropout {
    /// `p = 0.5`, the usual choice for fully connected layers.
    fn default() -> Self {
        Self::new(0.5)
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for Dropout {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    /// Inference: the identity.
    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        Ok(x)
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> ModuleMut<Tensor<S, E, D, T>> for Dropout {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    /// Training: zero with probability `p`, scale the rest by `1/(1-p)`.
    fn try_forward_mut(&mut self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        // NaN compares false everywhere: treat it like p = 0 (no dropout).
        if self.p.is_nan() || self.p <= 0.0 {
            Ok(x)
        } else if self.p >= 1.0 {
            x.try_mul(E::zero())
        } else {
            x.try_dropout(self.p)
        }
    }
}
