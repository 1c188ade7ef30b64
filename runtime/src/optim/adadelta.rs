//! Adadelta (Zeiler): Adagrad's decaying-average cousin whose step size is
//! the RMS of past updates, so it needs no learning rate of its own.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::optimizer;
use super::validate::{check, check_lr, check_nonneg};
use crate::elem::{cast, Elem};
use crate::error::Result;

/// Configuration of [`Adadelta`]. Defaults: PyTorch's (`lr` 1.0, rho 0.9, eps 1e-6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdadeltaConfig {
    /// Scale applied to the update (> 0; 1.0 is Zeiler's method).
    pub lr: f64,
    /// Decay rate of both running averages, in [0, 1].
    pub rho: f64,
    /// Added inside both square roots (>= 0).
    pub eps: f64,
    /// L2 penalty: `g += weight_decay * theta` (>= 0).
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl AdadeltaConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check(
            (0.0..=1.0).contains(&self.rho),
            "rho",
            self.rho,
            "must be in [0, 1]",
        )?;
        check_nonneg("eps", self.eps)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_clip(self.clip)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for AdadeltaConfig {
    const NAME: &'static str = "adadelta";
    fn tensor_slots(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
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
        let (rho, eps) = (self.rho, self.eps);
        let v = s.tensors[0]
            .clone()
            .try_mul(cast::<E>(rho))?
            .try_add(g.clone().try_square()?.try_mul(cast::<E>(1.0 - rho))?)?;
        let std = v.clone().try_add(cast::<E>(eps))?.try_sqrt()?;
        let delta = s.tensors[1]
            .clone()
            .try_add(cast::<E>(eps))?
            .try_sqrt()?
            .try_div(std)?
            .try_mul(g)?;
        let u = s.tensors[1]
            .clone()
            .try_mul(cast::<E>(rho))?
            .try_add(delta.clone().try_square()?.try_mul(cast::<E>(1.0 - rho))?)?;
        s.tensors[0] = v;
        s.tensors[1] = u;
        p.try_sub(delta.try_mul(cast::<E>(self.lr))?)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        let (rho, one_rho) = (cast::<E>(self.rho), cast::<E>(1.0 - self.rho));
        let (eps, lr) = (cast::<E>(self.eps), cast::<E>(self.lr));
        let (vs, us) = s.tensors.split_at_mut(1);
        for (((p, &g), v), u) in p
            .iter_mut()
            .zip(g)
            .zip(vs[0].iter_mut())
            .zip(us[0].iter_mut())
        {
            *v = *v * rho + g * g * one_rho;
            let delta = (*u + eps).sqrt() / (*v + eps).sqrt() * g;
            *u = *u * rho + delta * delta * one_rho;
            *p -= delta * lr;
        }
    }
}

optimizer!(
    /// Adadelta: `v = rho*v + (1-rho)*g^2;
    /// delta = sqrt(u + eps)/sqrt(v + eps) * g; u = rho*u + (1-rho)*delta^2;
    /// theta -= lr*delta` (eps inside both roots, as in Zeiler and PyTorch).
    ///
    /// ```
    /// use sxima_runtime::optim::{Adadelta, AdadeltaConfig};
    /// assert!(Adadelta::<f32>::new(AdadeltaConfig::default()).is_ok());
    /// assert!(Adadelta::<f32>::new(AdadeltaConfig { rho: 1.5, ..Default::default() }).is_err());
    /// ```
    Adadelta,
    AdadeltaConfig
);
