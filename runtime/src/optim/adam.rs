//! Adam (Kingma & Ba) and AdamW (Adam with decoupled weight decay,
//! Loshchilov & Hutter).
//!
//! The lecture's formula, `m^ = m/(1-b1^t); v^ = v/(1-b2^t);
//! theta -= lr*m^/(sqrt(v^) + eps)`, is algebraically PyTorch's
//! `theta -= (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`; we compute
//! PyTorch's arrangement (the textbook fixtures agree to 1e-16).

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::optimizer;
use super::validate::{check_lr, check_nonneg, check_unit};
use crate::elem::{cast, Elem};
use crate::error::Result;

/// Configuration of [`Adam`]. Defaults: PyTorch's (`lr` 1e-3, betas
/// (0.9, 0.999), eps 1e-8, no weight decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Decay rates of the first and second moment, each in [0, 1).
    pub betas: (f64, f64),
    /// Added to `sqrt(v^)` in the denominator (>= 0).
    pub eps: f64,
    /// Weight decay (>= 0): L2 (`g += wd*theta`) for [`Adam`], decoupled
    /// (`theta *= 1 - lr*wd`) for [`AdamW`].
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl AdamConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_unit("beta1", self.betas.0)?;
        check_unit("beta2", self.betas.1)?;
        check_nonneg("eps", self.eps)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_clip(self.clip)
    }
}

/// Configuration of [`AdamW`]: as [`AdamConfig`], with PyTorch's AdamW
/// default `weight_decay` 0.01 applied decoupled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Decay rates of the first and second moment, each in [0, 1).
    pub betas: (f64, f64),
    /// Added to `sqrt(v^)` in the denominator (>= 0).
    pub eps: f64,
    /// Decoupled weight decay: `theta *= 1 - lr*weight_decay` before the Adam step.
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.01,
            clip: None,
        }
    }
}

impl AdamWConfig {
    fn validate(&self) -> Result<()> {
        self.as_adam().validate()
    }
    fn as_adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            clip: self.clip,
        }
    }
}

/// The Adam step shared by both; `decay` is the decoupled factor `lr*wd` (0 for Adam).
fn adam_update<E: Elem, D: Device<E>>(
    c: &AdamConfig,
    decay: f64,
    p: Flat<E, D>,
    g: Flat<E, D>,
    s: &mut Slots<E, D>,
) -> Result<Flat<E, D>, D::Err> {
    let (b1, b2) = c.betas;
    let t = s.step as i32;
    let p = if decay != 0.0 {
        p.try_mul(cast::<E>(1.0 - decay))?
    } else {
        p
    };
    let m = s.tensors[0]
        .clone()
        .try_mul(cast::<E>(b1))?
        .try_add(g.clone().try_mul(cast::<E>(1.0 - b1))?)?;
    let v = s.tensors[1]
        .clone()
        .try_mul(cast::<E>(b2))?
        .try_add(g.try_square()?.try_mul(cast::<E>(1.0 - b2))?)?;
    s.tensors[0] = m.clone();
    s.tensors[1] = v.clone();
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    let denom = v
        .try_sqrt()?
        .try_div(cast::<E>(bc2.sqrt()))?
        .try_add(cast::<E>(c.eps))?;
    p.try_sub(m.try_div(denom)?.try_mul(cast::<E>(c.lr / bc1))?)
}

/// [`adam_update`] on host memory (the `Cpu` fast path).
fn adam_host<E: Elem>(c: &AdamConfig, decay: f64, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
    let (b1, b2) = c.betas;
    let t = s.step as i32;
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    let keep = cast::<E>(1.0 - decay);
    let (b1e, b2e) = (cast::<E>(b1), cast::<E>(b2));
    let (one_b1, one_b2) = (cast::<E>(1.0 - b1), cast::<E>(1.0 - b2));
    let (sqrt_bc2, eps, step) = (
        cast::<E>(bc2.sqrt()),
        cast::<E>(c.eps),
        cast::<E>(c.lr / bc1),
    );
    let (ms, vs) = s.tensors.split_at_mut(1);
    for (((p, &g), m), v) in p
        .iter_mut()
        .zip(g)
        .zip(ms[0].iter_mut())
        .zip(vs[0].iter_mut())
    {
        if decay != 0.0 {
            *p *= keep;
        }
        *m = *m * b1e + g * one_b1;
        *v = *v * b2e + g * g * one_b2;
        let denom = v.sqrt() / sqrt_bc2 + eps;
        *p -= *m / denom * step;
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for AdamConfig {
    const NAME: &'static str = "adam";
    fn tensor_slots(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
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
        adam_update(self, 0.0, p, g, s)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        adam_host(self, 0.0, s, p, g)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for AdamWConfig {
    const NAME: &'static str = "adamw";
    fn tensor_slots(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    fn l2_weight_decay(&self) -> f64 {
        0.0
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
        adam_update(&self.as_adam(), self.lr * self.weight_decay, p, g, s)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        adam_host(&self.as_adam(), self.lr * self.weight_decay, s, p, g)
    }
}

optimizer!(
    /// Adam: `m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    /// m^ = m/(1-b1^t); v^ = v/(1-b2^t); theta -= lr*m^/(sqrt(v^) + eps)`
    /// (t starts at 1). `weight_decay` is an L2 term added to `g`.
    ///
    /// ```
    /// use sxima_runtime::dfdx::prelude::*;
    /// use sxima_runtime::optim::{Adam, AdamConfig, Optimizer};
    ///
    /// let dev = Cpu::default();
    /// let mut w: Tensor<Rank1<2>, f64, Cpu> = dev.tensor([1.0, -2.0]);
    /// let mut adam = Adam::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
    /// let grads = w.leaky_trace().square().sum().backward();
    /// adam.step(&mut w, &grads).unwrap();
    /// // the first Adam step moves every coordinate by ~lr against its gradient's sign
    /// let w = w.array();
    /// assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] + 1.9).abs() < 1e-6);
    /// ```
    Adam,
    AdamConfig
);

optimizer!(
    /// AdamW: `theta *= 1 - lr*weight_decay` first (decoupled decay), then the
    /// [`Adam`] step without any L2 term.
    ///
    /// ```
    /// use sxima_runtime::optim::{AdamW, AdamWConfig};
    /// let opt = AdamW::<f32>::new(AdamWConfig::default()).unwrap();
    /// assert_eq!(opt.config().weight_decay, 0.01);
    /// ```
    AdamW,
    AdamWConfig
);
