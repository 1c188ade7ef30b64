//! RMSprop (Hinton): divide the gradient by a running RMS of recent gradients.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::clip::{check_clip, Clip};
use super::engine::{Flat, HostSlots, Slots, UpdateRule};
use super::validate::{check, check_lr, check_nonneg};
use super::{optimizer, EpsPlacement};
use crate::elem::{cast, Elem};
use crate::error::Result;

/// Configuration of [`RmsProp`]. Defaults: PyTorch's (`lr` 0.01, alpha 0.99,
/// eps 1e-8 outside the root, no momentum, not centered).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RmsPropConfig {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Decay rate of the running average of `g^2` (rho in the lecture), in [0, 1].
    pub alpha: f64,
    /// Numerical-stability term (>= 0).
    pub eps: f64,
    /// Where `eps` goes: PyTorch `g/(sqrt(E) + eps)` or textbook `g/sqrt(E + eps)`.
    pub eps_placement: EpsPlacement,
    /// PyTorch's momentum on the normalised gradient (>= 0; 0 = none):
    /// `buf = momentum*buf + g/denom; theta -= lr*buf`.
    pub momentum: f64,
    /// PyTorch's centered variant: normalise by the estimated variance
    /// `E[g^2] - E[g]^2` instead of `E[g^2]`.
    pub centered: bool,
    /// L2 penalty: `g += weight_decay * theta` (>= 0).
    pub weight_decay: f64,
    /// Optional gradient clipping before the update.
    pub clip: Option<Clip>,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            eps_placement: EpsPlacement::Outside,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

impl RmsPropConfig {
    fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check(
            (0.0..=1.0).contains(&self.alpha),
            "alpha",
            self.alpha,
            "must be in [0, 1]",
        )?;
        check_nonneg("eps", self.eps)?;
        check_nonneg("momentum", self.momentum)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_clip(self.clip)
    }
}

impl<E: Elem, D: Device<E>> UpdateRule<E, D> for RmsPropConfig {
    const NAME: &'static str = "rmsprop";
    fn tensor_slots(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "momentum_buffer"],
            (false, true) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "momentum_buffer", "grad_avg"],
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
        let a = self.alpha;
        let sq = s.tensors[0]
            .clone()
            .try_mul(cast::<E>(a))?
            .try_add(g.clone().try_square()?.try_mul(cast::<E>(1.0 - a))?)?;
        s.tensors[0] = sq.clone();
        let var = if self.centered {
            let slot = s.tensors.len() - 1;
            let ga = s.tensors[slot]
                .clone()
                .try_mul(cast::<E>(a))?
                .try_add(g.clone().try_mul(cast::<E>(1.0 - a))?)?;
            s.tensors[slot] = ga.clone();
            sq.try_sub(ga.try_square()?)?
        } else {
            sq
        };
        let denom = match self.eps_placement {
            EpsPlacement::Outside => var.try_sqrt()?.try_add(cast::<E>(self.eps))?,
            EpsPlacement::Inside => var.try_add(cast::<E>(self.eps))?.try_sqrt()?,
        };
        let step = g.try_div(denom)?;
        let step = if self.momentum > 0.0 {
            let buf = s.tensors[1]
                .clone()
                .try_mul(cast::<E>(self.momentum))?
                .try_add(step)?;
            s.tensors[1] = buf.clone();
            buf
        } else {
            step
        };
        p.try_sub(step.try_mul(cast::<E>(self.lr))?)
    }
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]) {
        let (a, one_a) = (cast::<E>(self.alpha), cast::<E>(1.0 - self.alpha));
        let (eps, lr, mom) = (
            cast::<E>(self.eps),
            cast::<E>(self.lr),
            cast::<E>(self.momentum),
        );
        let inside = self.eps_placement == EpsPlacement::Inside;
        let with_momentum = self.momentum > 0.0;
        let last = s.tensors.len() - 1;
        for i in 0..p.len() {
            let g = g[i];
            let sq = s.tensors[0][i] * a + g * g * one_a;
            s.tensors[0][i] = sq;
            let var = if self.centered {
                let ga = s.tensors[last][i] * a + g * one_a;
                s.tensors[last][i] = ga;
                sq - ga * ga
            } else {
                sq
            };
            let denom = if inside {
                (var + eps).sqrt()
            } else {
                var.sqrt() + eps
            };
            let mut step = g / denom;
            if with_momentum {
                step = s.tensors[1][i] * mom + step;
                s.tensors[1][i] = step;
            }
            p[i] -= step * lr;
        }
    }
}

optimizer!(
    /// RMSprop: `E = alpha*E + (1-alpha)*g^2; theta -= lr*g/(sqrt(E) + eps)`
    /// (PyTorch; the lecture's `theta -= lr*g/sqrt(E + eps)` with
    /// [`EpsPlacement::Inside`]).
    ///
    /// ```
    /// use sxima_runtime::optim::{RmsProp, RmsPropConfig};
    /// let opt = RmsProp::<f64>::new(RmsPropConfig { lr: 1e-3, alpha: 0.9, ..Default::default() }).unwrap();
    /// assert_eq!(opt.config().alpha, 0.9);
    /// ```
    RmsProp,
    RmsPropConfig
);
