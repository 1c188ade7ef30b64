//! Gradient descent, with optional (heavy-ball) momentum and Nesterov momentum.
//!
//! Batch, stochastic and mini-batch gradient descent are all this one
//! optimizer: what differs is how many samples the gradient is averaged
//! over, i.e. the batch size given to `fit` (the whole dataset = batch GD,
//! 1 = stochastic GD, k = mini-batch GD).

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::optimizer;
use super::validate::{check_lr, check_nonneg};
use crate::elem::{cast, Elem};
use crate::error::{Error, Result};

/// Which parametrisation of momentum [`Sgd`] uses. They give identical
/// trajectories while the learning rate is constant and differ when a
/// schedule changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MomentumForm {
    /// PyTorch: `b = mu*b + (1 - dampening)*g` (`b = g` on the first step);
    /// `theta -= lr*b`, or with Nesterov `theta -= lr*(g + mu*b)`.
    /// The buffer does not contain the learning rate. The default.
    #[default]
    Torch,
    /// The lecture: `v = gamma*v + lr*g; theta -= v`. With Nesterov the
    /// gradient must be taken at the look-ahead point `theta - gamma*v`;
    /// since a training loop evaluates the gradient at the model's weights,
    /// the model holds the look-ahead point `phi = theta - gamma*v` (the
    /// same change of variables PyTorch makes) and the step is
    /// `v' = gamma*v + lr*grad(phi); phi' = phi + gamma*v - (1 + gamma)*v'`.
    /// The textbook `theta` is `phi + gamma*v` (`v` is the `momentum_buffer`
    /// in [`Sgd::state`]). Dampening is not used in this form.
    Textbook,
}

/// Configuration of [`Sgd`]. Defaults: PyTorch's (`lr` = 0.01 as in Keras,
/// since PyTorch has none), no momentum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Momentum coefficient `mu` (gamma in the lecture), >= 0; 0 = plain SGD.
    pub momentum: f64,
    /// Dampening of the gradient in the momentum buffer (torch form only), in [0, 1].
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and no dampening).
    pub nesterov: bool,
    /// Torch or textbook parametrisation of momentum.
    pub form: MomentumForm,
    /// L2 penalty: `g += weight_decay * theta` (>= 0).
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            form: MomentumForm::Torch,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl SgdConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_nonneg("momentum", self.momentum)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        if !(0.0..=1.0).contains(&self.dampening) {
            return Err(Error::config(
                "dampening",
                self.dampening,
                "must be in [0, 1]",
            ));
        }
        if self.form == MomentumForm::Textbook && self.dampening != 0.0 {
            return Err(Error::config(
                "dampening",
                self.dampening,
                "dampening is a PyTorch option; the textbook momentum form has none",
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::config(
                "nesterov",
                self.nesterov,
                format!(
                    "Nesterov momentum requires momentum > 0 and dampening = 0 (momentum = {}, dampening = {})",
                    self.momentum, self.dampening
                ),
            ));
        }
        check_clip(self.clip)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for SgdConfig {
    const NAME: &'static str = "sgd";
    fn tensor_slots(&self) -> &'static [&'static str] {
        if self.momentum == 0.0 {
            &[]
        } else {
            &["momentum_buffer"]
        }
    }
    fn l2_weight_decay(&self) -> f64 {
        self.weight_decay
    }
    fn clip(&self) -> Option<Clip> {
        self.clip
    }
    fn update(
        &self,
        p: Flat<E, D>,
        g: Flat<E, D>,
        s: &mut Slots<E, D>,
    ) -> Result<Flat<E, D>, D::Err> {
        let (lr, mu) = (self.lr, self.momentum);
        if mu == 0.0 {
            return p.try_sub(g.try_mul(cast::<E>(lr))?);
        }
        let buf = s.tensors[0].clone();
        match self.form {
            MomentumForm::Torch => {
                let b = if s.step == 1 {
                    g.clone()
                } else {
                    buf.try_mul(cast::<E>(mu))?
                        .try_add(g.clone().try_mul(cast::<E>(1.0 - self.dampening))?)?
                };
                s.tensors[0] = b.clone();
                let d = if self.nesterov {
                    g.try_add(b.try_mul(cast::<E>(mu))?)?
                } else {
                    b
                };
                p.try_sub(d.try_mul(cast::<E>(lr))?)
            }
            MomentumForm::Textbook => {
                let v = buf
                    .clone()
                    .try_mul(cast::<E>(mu))?
                    .try_add(g.try_mul(cast::<E>(lr))?)?;
                s.tensors[0] = v.clone();
                if self.nesterov {
                    p.try_add(buf.try_mul(cast::<E>(mu))?)?
                        .try_sub(v.try_mul(cast::<E>(1.0 + mu))?)
                } else {
                    p.try_sub(v)
                }
            }
        }
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        self.host(s, p, g)
    }
}

impl SgdConfig {
    fn host<E: Elem>(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        let (lr, mu) = (cast::<E>(self.lr), cast::<E>(self.momentum));
        if self.momentum == 0.0 {
            for (p, &g) in p.iter_mut().zip(g) {
                *p -= g * lr;
            }
            return;
        }
        let buf = &mut s.tensors[0];
        match self.form {
            MomentumForm::Torch => {
                let damp = cast::<E>(1.0 - self.dampening);
                let first = s.step == 1;
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    *b = if first { g } else { *b * mu + g * damp };
                    let d = if self.nesterov { g + *b * mu } else { *b };
                    *p -= d * lr;
                }
            }
            MomentumForm::Textbook => {
                let one_plus_mu = cast::<E>(1.0 + self.momentum);
                for ((p, &g), v) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let old = *v;
                    *v = old * mu + g * lr;
                    *p = if self.nesterov {
                        *p + old * mu - *v * one_plus_mu
                    } else {
                        *p - *v
                    };
                }
            }
        }
    }
}

optimizer!(
    /// Stochastic gradient descent: `theta -= lr * grad`, optionally with
    /// momentum (`v = gamma*v + lr*g; theta -= v`) or Nesterov momentum
    /// (gradient at the look-ahead point `theta - gamma*v`); see
    /// [`MomentumForm`] for the PyTorch and textbook parametrisations.
    ///
    /// Batch, stochastic and mini-batch gradient descent are this one
    /// optimizer with batch size = dataset size / 1 / k.
    ///
    /// ```
    /// use sxima_runtime::dfdx::prelude::*;
    /// use sxima_runtime::optim::{Optimizer, Sgd, SgdConfig};
    ///
    /// let dev = Cpu::default();
    /// let mut w: Tensor<Rank1<2>, f64, Cpu> = dev.tensor([1.0, -2.0]);
    /// let mut sgd = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() }).unwrap();
    /// // loss = sum(w^2) / 2, gradient = w
    /// let grads = (w.leaky_trace().square().sum() * 0.5).backward();
    /// sgd.step(&mut w, &grads).unwrap();
    /// assert_eq!(w.array(), [0.9, -1.8]);
    /// assert!(Sgd::<f64, Cpu>::new(SgdConfig { lr: 0.0, ..Default::default() }).is_err());
    /// ```
    Sgd,
    SgdConfig
);
