//! Nadam (Dozat): Adam with Nesterov momentum, in PyTorch's formulation with
//! the momentum-decay schedule `mu_t = b1*(1 - 0.5*0.96^(t*psi))`.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::optimizer;
use super::validate::{check_lr, check_nonneg, check_unit};
use crate::elem::{cast, Elem};
use crate::error::Result;

/// Configuration of [`Nadam`]. Defaults: PyTorch's (`lr` 2e-3, betas
/// (0.9, 0.999), eps 1e-8, momentum_decay 4e-3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NadamConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Decay rates of the first and second moment, each in [0, 1).
    pub betas: (f64, f64),
    /// Added to `sqrt(v^)` (>= 0).
    pub eps: f64,
    /// `psi` in the momentum schedule (>= 0).
    pub momentum_decay: f64,
    /// L2 penalty: `g += weight_decay * theta` (>= 0).
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for NadamConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            momentum_decay: 4e-3,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl NadamConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_unit("beta1", self.betas.0)?;
        check_unit("beta2", self.betas.1)?;
        check_nonneg("eps", self.eps)?;
        check_nonneg("momentum_decay", self.momentum_decay)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_clip(self.clip)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for NadamConfig {
    const NAME: &'static str = "nadam";
    const SCALARS: &'static [(&'static str, f64)] = &[("mu_product", 1.0)];
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
        let (b1, b2) = self.betas;
        let (bc2, c_g, c_m) = self.coefficients(s.step, &mut s.scalars[0]);
        let m = s.tensors[0]
            .clone()
            .try_mul(cast::<E>(b1))?
            .try_add(g.clone().try_mul(cast::<E>(1.0 - b1))?)?;
        let v = s.tensors[1]
            .clone()
            .try_mul(cast::<E>(b2))?
            .try_add(g.clone().try_square()?.try_mul(cast::<E>(1.0 - b2))?)?;
        s.tensors[0] = m.clone();
        s.tensors[1] = v.clone();
        let denom = v
            .try_div(cast::<E>(bc2))?
            .try_sqrt()?
            .try_add(cast::<E>(self.eps))?;
        let step = g
            .try_mul(cast::<E>(c_g))?
            .try_add(m.try_mul(cast::<E>(c_m))?)?
            .try_div(denom)?;
        p.try_sub(step)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        let (b1, b2) = self.betas;
        let (bc2, c_g, c_m) = self.coefficients(s.step, &mut s.scalars[0]);
        let (b1e, b2e) = (cast::<E>(b1), cast::<E>(b2));
        let (one_b1, one_b2) = (cast::<E>(1.0 - b1), cast::<E>(1.0 - b2));
        let (bc2, eps, c_g, c_m) = (
            cast::<E>(bc2),
            cast::<E>(self.eps),
            cast::<E>(c_g),
            cast::<E>(c_m),
        );
        let (ms, vs) = s.tensors.split_at_mut(1);
        for (((p, &g), m), v) in p
            .iter_mut()
            .zip(g)
            .zip(ms[0].iter_mut())
            .zip(vs[0].iter_mut())
        {
            *m = *m * b1e + g * one_b1;
            *v = *v * b2e + g * g * one_b2;
            let denom = (*v / bc2).sqrt() + eps;
            *p -= (g * c_g + *m * c_m) / denom;
        }
    }
}

impl NadamConfig {
    /// For step `t`: updates `mu_product` and returns `(1 - b2^t, c_g, c_m)`
    /// with `c_g = lr*(1-mu_t)/(1-prod_{i<=t} mu_i)` and
    /// `c_m = lr*mu_{t+1}/(1-prod_{i<=t+1} mu_i)`.
    fn coefficients(&self, step: u64, mu_product: &mut f64) -> (f64, f64, f64) {
        let (b1, b2) = self.betas;
        let t = step as f64;
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        *mu_product *= mu;
        let mu_product_next = *mu_product * mu_next;
        let c_g = self.lr * (1.0 - mu) / (1.0 - *mu_product);
        let c_m = self.lr * mu_next / (1.0 - mu_product_next);
        (bc2, c_g, c_m)
    }
}

optimizer!(
    /// Nadam: `mu_t = b1*(1 - 0.5*0.96^(t*psi)); m = b1*m + (1-b1)*g;
    /// v = b2*v + (1-b2)*g^2; v^ = v/(1-b2^t);
    /// theta -= lr*(1-mu_t)/(1-prod_{i<=t} mu_i) * g/(sqrt(v^)+eps)
    ///        + lr*mu_{t+1}/(1-prod_{i<=t+1} mu_i) * m/(sqrt(v^)+eps)`.
    ///
    /// ```
    /// use sxima_runtime::optim::{Nadam, NadamConfig};
    /// assert!(Nadam::<f32>::new(NadamConfig::default()).is_ok());
    /// assert!(Nadam::<f32>::new(NadamConfig { betas: (0.9, 1.0), ..Default::default() }).is_err());
    /// ```
    Nadam,
    NadamConfig
);
