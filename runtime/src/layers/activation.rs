//! Element-wise activations. Shape in = shape out, any rank.
//!
//! `ReLU`, `Sigmoid`, `Tanh` and `Softmax` (over the last axis) are dfdx's own
//! zero-sized modules; `LeakyReLU` carries its slope.

use dfdx::nn::{Module, NonMutableModule};
use dfdx::prelude::{Shape, Tape, Tensor};
use dfdx::tensor_ops::{Device, TryPReLU};

use crate::elem::Elem;

pub use dfdx::nn::modules::{ReLU, Sigmoid, Softmax, Tanh};

/// `max(x, 0) + alpha * min(x, 0)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    /// Slope for negative inputs (Keras default 0.3, PyTorch 0.01).
    pub alpha: f64,
}

impl LeakyReLU {
    pub const fn new(alpha: f64) -> Self {
        Self { alpha }
    }
}

impl NonMutableModule for LeakyReLU {}

impl<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for LeakyReLU {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        let alpha = E::from_f64(self.alpha).expect("alpha fits the element type");
        x.try_prelu(alpha)
    }
}
