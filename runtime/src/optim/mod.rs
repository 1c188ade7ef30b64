//! Optimizers, gradient clipping and learning-rate schedules.
//!
//! Every optimizer implements [`Optimizer`] for any model that is a dfdx
//! `TensorCollection`, so `fit` and user loops drive them the same way:
//!
//! ```
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::optim::{Adam, AdamConfig, Optimizer};
//!
//! let dev = Cpu::default();
//! let mut model = dev.build_module::<Linear<2, 1>, f32>();
//! let mut opt = Adam::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let x = dev.tensor([[1.0f32, 2.0], [3.0, -1.0]]);
//! let y = dev.tensor([[1.0f32], [0.0]]);
//! let mut grads = model.alloc_grads();
//! let mut last = f32::INFINITY;
//! for _ in 0..50 {
//!     let pred = model.forward(x.clone().traced(grads));
//!     let loss = (pred - y.clone()).square().mean();
//!     last = loss.array();
//!     grads = loss.backward();
//!     opt.step(&mut model, &grads).unwrap();
//!     model.zero_grads(&mut grads);
//! }
//! assert!(last < 1e-2);
//! ```
//!
//! The optimizers (one file each) walk the model's trainable tensors with
//! dfdx's visitor API, keep their moments per parameter path, and do their
//! arithmetic with dfdx tensor ops, so the same code runs on `Cpu` and `Cuda`.
//! Each config has PyTorch's defaults, an L2 `weight_decay` (`g += wd * theta`)
//! and an optional gradient [`Clip`]; constructors validate the config and
//! return [`Error::InvalidConfig`](crate::Error::InvalidConfig) instead of panicking.
//!
//! [`trajectory`] runs the optimizers on a 2-D saddle surface (the lecture's
//! "who escapes the saddle" experiment).

mod adadelta;
mod adagrad;
mod adam;
mod any;
mod clip;
mod engine;
pub(crate) mod grads;
mod nadam;
mod rmsprop;
mod schedule;
mod sgd;
pub mod trajectory;
mod validate;

use std::collections::BTreeMap;

use dfdx::nn::TensorCollection;
use dfdx::tensor::Gradients;
use dfdx::tensor_ops::Device;
use serde::{Deserialize, Serialize};

use crate::elem::Elem;
use crate::error::Result;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use any::{AnyOptimizer, OptimizerConfig};
pub use clip::{clip_grad_norm, clip_grad_value, grad_global_norm, grad_norms, Clip};
pub use nadam::{Nadam, NadamConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{
    ConstantLr, CosineAnnealing, ExponentialDecay, LrSchedule, OneCycle, PlateauMode,
    ReduceOnPlateau, StepDecay,
};
pub use sgd::{MomentumForm, Sgd, SgdConfig};

/// One optimizer interface for the whole family (SGD .. Nadam).
pub trait Optimizer<M: TensorCollection<E, D>, E: Elem, D: Device<E>> {
    /// Applies one update to every trainable tensor of `model` using `grads`
    /// (as returned by `loss.backward()`). Tensors without a gradient and
    /// tensors with `do_gradient_update == false` (batch-norm running
    /// statistics) are left alone.
    fn step(&mut self, model: &mut M, grads: &Gradients<E, D>) -> Result<()>;

    /// What a training loop does between two batches: [`Optimizer::step`]
    /// with gradients the caller owns, then every trainable tensor's
    /// gradient zeroed (as dfdx's `zero_grads`), ready to accumulate the
    /// next batch. Meant for gradients from `model.alloc_grads()`, where
    /// every trainable tensor has one (sxima's optimizers count a missing
    /// one as zero; the default, `step` then `zero_grads`, skips it). The
    /// sxima optimizers work on the gradient buffers in place on `Cpu`: no
    /// probe for which tensors have a gradient, no copy of it.
    fn step_and_zero(&mut self, model: &mut M, grads: &mut Gradients<E, D>) -> Result<()> {
        use crate::error::DeviceResultExt;
        use dfdx::nn::ZeroGrads;
        self.step(model, grads)?;
        model.try_zero_grads(grads).dev()
    }
    /// Current learning rate.
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate (used by schedules and callbacks). Errors with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) on NaN,
    /// infinity or a negative rate, leaving the rate unchanged; 0 is
    /// accepted here (a schedule's end) but `fit` will not start with it.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;
    /// The optimizer's state (moments, step counts, learning rate) in host
    /// memory, for checkpoints.
    fn state(&self) -> OptimizerState;
    /// Restores a state produced by [`Optimizer::state`] of the same kind of
    /// optimizer; training then continues bit-identically.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// Where an adaptive method adds its `eps`: PyTorch (and Keras) add it
/// outside the square root, most textbooks (and the lecture) inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EpsPlacement {
    /// `g / (sqrt(G) + eps)` (PyTorch; the default).
    #[default]
    Outside,
    /// `g / sqrt(G + eps)` (textbook).
    Inside,
}

/// An optimizer's state in host memory: what a checkpoint needs to resume
/// training exactly. Values are stored as `f64`, which holds `f32` and `f64`
/// elements exactly; it is `serde`-serialisable, and `serde_json` (built with
/// `float_roundtrip` in this crate) writes and reads it back bit for bit.
///
/// ```
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::optim::{Adam, AdamConfig, Optimizer, OptimizerState};
///
/// let dev = Cpu::default();
/// let mut w: Tensor<Rank1<2>, f64, Cpu> = dev.tensor([1.0, -2.0]);
/// let mut opt = Adam::new(AdamConfig::default()).unwrap();
/// let grads = w.leaky_trace().square().sum().backward();
/// opt.step(&mut w, &grads).unwrap();
///
/// let json = serde_json::to_string(&opt.state()).unwrap();
/// let mut resumed = Adam::<f64, Cpu>::new(AdamConfig::default()).unwrap();
/// resumed.load_state(&serde_json::from_str::<OptimizerState>(&json).unwrap()).unwrap();
/// assert_eq!(resumed.state(), opt.state());
/// assert_eq!(opt.state().steps[""], 1); // a bare tensor's path is ""
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Which optimizer wrote it (`"adam"`, `"sgd"`, ...), checked on load.
    pub optimizer: String,
    /// Learning rate at the time of saving.
    pub lr: f64,
    /// Number of updates applied, per parameter path.
    pub steps: BTreeMap<String, u64>,
    /// Moment tensors, flattened, keyed `"<parameter path>/<slot>"`
    /// (e.g. `"fc1.weight/exp_avg"`).
    pub tensors: BTreeMap<String, Vec<f64>>,
    /// Scalar state, keyed like `tensors` (e.g. Nadam's `mu_product`).
    pub scalars: BTreeMap<String, f64>,
}

/// Defines an optimizer struct around a config implementing `UpdateRule`.
macro_rules! optimizer {
    ($(#[$doc:meta])* $name:ident, $cfg:ty) => {
        $(#[$doc])*
        pub struct $name<E: $crate::elem::Elem = f32, D: dfdx::tensor_ops::Device<E> = dfdx::tensor::Cpu> {
            cfg: $cfg,
            states: $crate::optim::engine::ParamStates<E, D>,
        }

        impl<E: $crate::elem::Elem, D: dfdx::tensor_ops::Device<E>> $name<E, D> {
            /// Validates `cfg` (`Error::InvalidConfig` on a bad value) and creates
            /// the optimizer with empty state.
            pub fn new(cfg: $cfg) -> $crate::error::Result<Self> {
                cfg.validate()?;
                Ok(Self {
                    cfg,
                    states: Default::default(),
                })
            }

            /// Whether to use the fused host-memory update when `D` is `Cpu`
            /// (on by default; the generic tensor-op path is used on every
            /// other device). Switching mid-training moves the state.
            pub fn set_cpu_fast_path(&mut self, enabled: bool) {
                self.states.cpu_fast_path = enabled;
            }

            /// The configuration (with the current learning rate).
            pub fn config(&self) -> &$cfg {
                &self.cfg
            }

            /// See [`Optimizer::state`](crate::optim::Optimizer::state).
            pub fn state(&self) -> $crate::optim::OptimizerState {
                self.states.export(&self.cfg, self.cfg.lr)
            }

            /// See [`Optimizer::load_state`](crate::optim::Optimizer::load_state).
            pub fn load_state(
                &mut self,
                state: &$crate::optim::OptimizerState,
            ) -> $crate::error::Result<()> {
                $crate::optim::validate::check_lr(state.lr)?;
                self.states.import(&self.cfg, state)?;
                self.cfg.lr = state.lr;
                Ok(())
            }
        }

        impl<M, E, D> $crate::optim::Optimizer<M, E, D> for $name<E, D>
        where
            M: dfdx::nn::TensorCollection<E, D>,
            E: $crate::elem::Elem,
            D: $crate::backend::Backend<E>,
        {
            fn step(
                &mut self,
                model: &mut M,
                grads: &dfdx::tensor::Gradients<E, D>,
            ) -> $crate::error::Result<()> {
                $crate::optim::engine::step(&self.cfg, &mut self.states, model, grads)
            }
            fn step_and_zero(
                &mut self,
                model: &mut M,
                grads: &mut dfdx::tensor::Gradients<E, D>,
            ) -> $crate::error::Result<()> {
                $crate::optim::engine::step_and_zero(&self.cfg, &mut self.states, model, grads)
            }
            fn learning_rate(&self) -> f64 {
                self.cfg.lr
            }
            fn set_learning_rate(&mut self, lr: f64) -> $crate::error::Result<()> {
                $crate::optim::validate::check_set_lr(lr)?;
                self.cfg.lr = lr;
                Ok(())
            }
            fn state(&self) -> $crate::optim::OptimizerState {
                $name::state(self)
            }
            fn load_state(
                &mut self,
                state: &$crate::optim::OptimizerState,
            ) -> $crate::error::Result<()> {
                $name::load_state(self, state)
            }
        }
    };
}
pub(crate) use optimizer;

#[cfg(test)]
mod tests;
