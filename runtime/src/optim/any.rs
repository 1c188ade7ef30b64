//! [`OptimizerConfig`]: every optimizer's config in one (serialisable) enum,
//! and [`AnyOptimizer`], the optimizer it builds, so a training
//! configuration can name its optimizer as data (Keras' `optimizer="adam"`).

use dfdx::nn::TensorCollection;
use dfdx::tensor::{Cpu, Gradients};
use dfdx::tensor_ops::Device;
use serde::{Deserialize, Serialize};

use super::{
    Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Nadam,
    NadamConfig, Optimizer, OptimizerState, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use crate::elem::Elem;
use crate::error::Result;

/// The configuration of any optimizer.
///
/// ```
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::optim::{AdamConfig, Optimizer, OptimizerConfig};
///
/// let dev = Cpu::default();
/// let mut w: Tensor<Rank1<2>, f32, Cpu> = dev.tensor([1.0, -2.0]);
/// let cfg = OptimizerConfig::Adam(AdamConfig { lr: 0.1, ..Default::default() });
/// let mut opt = cfg.build::<f32, Cpu>().unwrap();
/// let grads = w.leaky_trace().square().sum().backward();
/// opt.step(&mut w, &grads).unwrap();
/// assert_eq!(Optimizer::<Tensor<Rank1<2>, f32, Cpu>, f32, Cpu>::learning_rate(&opt), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerConfig {
    Sgd(SgdConfig),
    Adagrad(AdagradConfig),
    Adadelta(AdadeltaConfig),
    RmsProp(RmsPropConfig),
    Adam(AdamConfig),
    AdamW(AdamWConfig),
    Nadam(NadamConfig),
}

impl Default for OptimizerConfig {
    /// Adam with PyTorch's defaults.
    fn default() -> Self {
        Self::Adam(AdamConfig::default())
    }
}

impl OptimizerConfig {
    /// Validates the config and builds the optimizer.
    pub fn build<E: Elem, D: Device<E>>(&self) -> Result<AnyOptimizer<E, D>> {
        Ok(match *self {
            Self::Sgd(c) => AnyOptimizer::Sgd(Sgd::new(c)?),
            Self::Adagrad(c) => AnyOptimizer::Adagrad(Adagrad::new(c)?),
            Self::Adadelta(c) => AnyOptimizer::Adadelta(Adadelta::new(c)?),
            Self::RmsProp(c) => AnyOptimizer::RmsProp(RmsProp::new(c)?),
            Self::Adam(c) => AnyOptimizer::Adam(Adam::new(c)?),
            Self::AdamW(c) => AnyOptimizer::AdamW(AdamW::new(c)?),
            Self::Nadam(c) => AnyOptimizer::Nadam(Nadam::new(c)?),
        })
    }
}

/// Any of the optimizers, built by [`OptimizerConfig::build`].
pub enum AnyOptimizer<E: Elem = f32, D: Device<E> = Cpu> {
    Sgd(Sgd<E, D>),
    Adagrad(Adagrad<E, D>),
    Adadelta(Adadelta<E, D>),
    RmsProp(RmsProp<E, D>),
    Adam(Adam<E, D>),
    AdamW(AdamW<E, D>),
    Nadam(Nadam<E, D>),
}

/// Runs `$body` with `$o` bound to the inner optimizer.
macro_rules! each {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            AnyOptimizer::Sgd($o) => $body,
            AnyOptimizer::Adagrad($o) => $body,
            AnyOptimizer::Adadelta($o) => $body,
            AnyOptimizer::RmsProp($o) => $body,
            AnyOptimizer::Adam($o) => $body,
            AnyOptimizer::AdamW($o) => $body,
            AnyOptimizer::Nadam($o) => $body,
        }
    };
}

impl<E: Elem, D: Device<E>> AnyOptimizer<E, D> {
    /// See `Sgd::set_cpu_fast_path`.
    pub fn set_cpu_fast_path(&mut self, enabled: bool) {
        each!(self, o => o.set_cpu_fast_path(enabled))
    }
    /// The optimizer's state (see [`Optimizer::state`]).
    pub fn state(&self) -> OptimizerState {
        each!(self, o => o.state())
    }
    /// Restores a state (see [`Optimizer::load_state`]).
    pub fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        each!(self, o => o.load_state(state))
    }
    /// The configuration it was built from (with the current learning rate).
    pub fn config(&self) -> OptimizerConfig {
        match self {
            Self::Sgd(o) => OptimizerConfig::Sgd(*o.config()),
            Self::Adagrad(o) => OptimizerConfig::Adagrad(*o.config()),
            Self::Adadelta(o) => OptimizerConfig::Adadelta(*o.config()),
            Self::RmsProp(o) => OptimizerConfig::RmsProp(*o.config()),
            Self::Adam(o) => OptimizerConfig::Adam(*o.config()),
            Self::AdamW(o) => OptimizerConfig::AdamW(*o.config()),
            Self::Nadam(o) => OptimizerConfig::Nadam(*o.config()),
        }
    }
}

impl<M: TensorCollection<E, D>, E: Elem, D: crate::backend::Backend<E>> Optimizer<M, E, D>
    for AnyOptimizer<E, D>
{
    fn step(&mut self, model: &mut M, grads: &Gradients<E, D>) -> Result<()> {
        each!(self, o => Optimizer::<M, E, D>::step(o, model, grads))
    }
    fn step_and_zero(&mut self, model: &mut M, grads: &mut Gradients<E, D>) -> Result<()> {
        each!(self, o => Optimizer::<M, E, D>::step_and_zero(o, model, grads))
    }
    fn learning_rate(&self) -> f64 {
        each!(self, o => Optimizer::<M, E, D>::learning_rate(o))
    }
    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        each!(self, o => Optimizer::<M, E, D>::set_learning_rate(o, lr))
    }
    fn state(&self) -> OptimizerState {
        AnyOptimizer::state(self)
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        AnyOptimizer::load_state(self, state)
    }
}
