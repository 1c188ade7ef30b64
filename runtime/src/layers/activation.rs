//! Element-wise activations. Shape in = shape out, any rank.
//!
//! `ReLU`, `Sigmoid`, `Tanh`, `Softmax` and `LogSoftmax` (both over the last
//! axis) are dfdx's own zero-sized modules; `LeakyReLU` carries its slope;
//! `GeLU` (exact, erf), `GeLUTanh` (tanh approximation) and `SiLU` are ours,
//! matching PyTorch's `GELU()`, `GELU(approximate='tanh')` and `SiLU()`.

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::{NoneTape, Shape, Tape, Tensor};
use dfdx::tensor_ops::{TryAdd, TryMul, TryPReLU, TrySub};

use crate::backend::Backend;
use crate::elem::{cast, Elem};

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

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for LeakyReLU {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        let alpha = cast::<E>(self.alpha);
        x.try_prelu(alpha)
    }
}

/// `LogSoftmax` over the last axis (dfdx's own zero-sized module):
/// `x - logsumexp(x)`, numerically stable. Shape in = shape out.
pub use dfdx::nn::modules::LogSoftmax;

/// Exact GELU, `x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))`
/// (PyTorch `nn.GELU()`, `approximate='none'`). Shape in = shape out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GeLU;

/// GELU with the tanh approximation,
/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`
/// (PyTorch `nn.GELU(approximate='tanh')`). Shape in = shape out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GeLUTanh;

/// SiLU (swish), `x * sigmoid(x)`. Shape in = shape out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SiLU;

/// `1/sqrt(2 pi) - 1/sqrt(pi)`: correction of dfdx's GELU derivative (see `GeLU`).
const GELU_GRAD_FIX: f64 = 0.398_942_280_401_432_7 - 0.564_189_583_547_756_3;

impl ZeroSizedModule for GeLU {}
impl NonMutableModule for GeLU {}
impl ZeroSizedModule for GeLUTanh {}
impl NonMutableModule for GeLUTanh {}
impl ZeroSizedModule for SiLU {}
impl NonMutableModule for SiLU {}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for GeLU {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        // dfdx 0.13's `accurate_gelu` has the right value but its derivative
        // (CPU and CUDA alike) uses `x e^{-x^2/2} / sqrt(pi)` where the
        // Gaussian density gives `x e^{-x^2/2} / sqrt(2 pi)`. We add
        // `w * x - w * x` (exactly zero) with `w = k x e^{-x^2/2}` held
        // constant, `k = 1/sqrt(2 pi) - 1/sqrt(pi)`, so the tape gains the
        // missing `w` while the value stays dfdx's.
        let k = cast::<E>(GELU_GRAD_FIX);
        let xd = x.retaped::<NoneTape>();
        let w = xd
            .clone()
            .try_square()?
            .try_mul(cast::<E>(-0.5))?
            .try_exp()?
            .try_mul(xd.clone())?
            .try_mul(k)?;
        let wx_const = w.clone().try_mul(xd)?;
        let zero = x.retaped::<T>().try_mul(w)?.try_sub(wx_const)?;
        x.try_accurate_gelu()?.try_add(zero)
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for GeLUTanh {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        x.try_fast_gelu()
    }
}

impl<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<S, E, D, T>> for SiLU {
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        let gate = x.retaped::<T>().try_sigmoid()?;
        x.try_mul(gate)
    }
}
