//! Adagrad (Duchi et al.): per-coordinate learning rates from the sum of all
//! past squared gradients.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::validate::{check_lr, check_nonneg};
use super::{optimizer, EpsPlacement};
use crate::elem::{cast, Elem};
use crate::error::Result;

/// Configuration of [`Adagrad`]. Defaults: PyTorch's (`lr` 0.01, eps 1e-10,
/// eps outside the square root, no lr decay, accumulator starting at 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdagradConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// PyTorch's `lr_decay` (>= 0): step t uses `lr / (1 + (t-1)*lr_decay)`.
    pub lr_decay: f64,
    /// Numerical-stability term (>= 0).
    pub eps: f64,
    /// Where `eps` goes: PyTorch `g/(sqrt(G) + eps)` or textbook `g/sqrt(G + eps)`.
    pub eps_placement: EpsPlacement,
    /// Initial value of the accumulator `G` (>= 0).
    pub initial_accumulator_value: f64,
    /// L2 penalty: `g += weight_decay * theta` (>= 0).
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            lr_decay: 0.0,
            eps: 1e-10,
            eps_placement: EpsPlacement::Outside,
            initial_accumulator_value: 0.0,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl AdagradConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_nonneg("lr_decay", self.lr_decay)?;
        check_nonneg("eps", self.eps)?;
        check_nonneg("initial_accumulator_value", self.initial_accumulator_value)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_clip(self.clip)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for AdagradConfig {
    const NAME: &'static str = "adagrad";
    fn tensor_slots(&self) -> &'static [&'static str] {
        &["sum"]
    }
    fn init_value(&self, _slot: usize) -> f64 {
        self.initial_accumulator_value
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
        let clr = self.lr / (1.0 + (s.step - 1) as f64 * self.lr_decay);
        let sum = s.tensors[0].clone().try_add(g.clone().try_square()?)?;
        s.tensors[0] = sum.clone();
        let denom = match self.eps_placement {
            EpsPlacement::Outside => sum.try_sqrt()?.try_add(cast::<E>(self.eps))?,
            EpsPlacement::Inside => sum.try_add(cast::<E>(self.eps))?.try_sqrt()?,
        };
        p.try_sub(g.try_div(denom)?.try_mul(cast::<E>(clr))?)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        let clr = cast::<E>(self.lr / (1.0 + (s.step - 1) as f64 * self.lr_decay));
        let eps = cast::<E>(self.eps);
        let inside = self.eps_placement == EpsPlacement::Inside;
        for ((p, &g), sum) in p.iter_mut().zip(g).zip(s.tensors[0].iter_mut()) {
            *sum += g * g;
            let denom = if inside {
                (*sum + eps).sqrt()
            } else {
                sum.sqrt() + eps
            };
            *p -= g / denom * clr;
        }
    }
}

optimizer!(
    /// Adagrad: `G += g^2; theta -= lr * g / (sqrt(G) + eps)` (PyTorch; the
    /// textbook `theta -= lr * g / sqrt(G + eps)` with
    /// [`EpsPlacement::Inside`]).
    ///
    /// ```
    /// use sxima_runtime::optim::{Adagrad, AdagradConfig, EpsPlacement};
    /// let cfg = AdagradConfig { lr: 0.5, eps_placement: EpsPlacement::Inside, ..Default::default() };
    /// assert!(Adagrad::<f32>::new(cfg).is_ok());
    /// assert!(Adagrad::<f32>::new(AdagradConfig { eps: -1.0, ..cfg }).is_err());
    /// ```
    Adagrad,
    AdagradConfig
);
