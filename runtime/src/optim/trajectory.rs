//! Optimizer trajectories on a 2-D test surface: the lecture's saddle
//! experiment, as library code so that tests assert on the same numbers the
//! `optimizers_saddle` example prints and draws.
//!
//! The "model" is a single `Tensor<Rank1<2>, f64, Cpu>` holding `(x, y)`
//! (a bare tensor is a dfdx `TensorCollection` with parameter path `""`),
//! the gradient comes from dfdx autodiff, and each optimizer is the crate's
//! own, built from an [`OptimizerConfig`] and driven through [`Optimizer::step`].
//!
//! The surface is `f(x, y) = x² − y²` ([`saddle`]): a minimum along `x`, a
//! maximum along `y`, a saddle point at the origin. Started at `(1, 1e-3)`,
//! i.e. on the `x`-axis a hair off the ridge `y = 0`, plain gradient descent
//! moves `y` by the factor `1 + 2·lr` per step; with a small gradient in `y`
//! it first slides down into the saddle and needs `ln(|y_esc| / |y0|) /
//! ln(1 + 2·lr)` steps to get out (349 for lr 0.01, threshold 1). Momentum
//! accumulates the small, consistent `y`-gradient; adaptive methods divide
//! by its running magnitude, so their first `y`-steps are about `lr`
//! whatever the gradient's size. See [`lecture_optimizers`] for the
//! learning rates and why.

use dfdx::prelude::{Cpu, Rank1, Tensor, TensorFrom};
use dfdx::tensor::{AsArray, Trace};
use dfdx::tensor_ops::{Backward, SumTo};

use crate::error::{DeviceResultExt, Result};
use crate::optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, NadamConfig, Optimizer, OptimizerConfig,
    RmsPropConfig, SgdConfig,
};

/// The saddle surface `f(x, y) = x² − y²`.
pub fn saddle(x: f64, y: f64) -> f64 {
    x * x - y * y
}

/// The path one optimizer takes from the start point.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Display name (`"Adam"`).
    pub label: String,
    /// `(x, y)` before the first step and after every step: `steps + 1` points.
    pub points: Vec<(f64, f64)>,
    /// First step (1-based) after which `|y| > threshold`, if any.
    pub escaped_at: Option<usize>,
}

impl Trajectory {
    /// The last point (the start point for a trajectory of 0 steps; `(NaN,
    /// NaN)` for one built by hand without points).
    pub fn last(&self) -> (f64, f64) {
        self.points.last().copied().unwrap_or((f64::NAN, f64::NAN))
    }
}

/// The lecture's eight optimizers with the learning rates the saddle
/// experiment uses, in lecture order.
///
/// One nominal learning rate, 0.01, for every method that has one, so the
/// comparison is about the update rule, not the step size: 0.01 is the
/// usual lecture value for SGD (and Keras' default), PyTorch's default for
/// Adagrad and RMSprop, and 10x Adam's/5x Nadam's defaults (at 1e-3 Adam
/// needs ~1000 steps to travel a distance of 1, since its steps are about
/// `lr` long). Momentum methods use `mu = 0.9`. Adadelta keeps `lr = 1.0`:
/// it has no learning rate of its own (the paper has none; PyTorch's `lr` is
/// a multiplier, default 1), its step is `sqrt(E[dx²] + eps) / sqrt(E[g²] +
/// eps)`. Everything else is PyTorch's defaults.
pub fn lecture_optimizers() -> Vec<(&'static str, OptimizerConfig)> {
    let lr = 0.01;
    let sgd = SgdConfig {
        lr,
        ..Default::default()
    };
    vec![
        ("SGD", OptimizerConfig::Sgd(sgd)),
        (
            "Momentum",
            OptimizerConfig::Sgd(SgdConfig {
                momentum: 0.9,
                ..sgd
            }),
        ),
        (
            "Nesterov",
            OptimizerConfig::Sgd(SgdConfig {
                momentum: 0.9,
                nesterov: true,
                ..sgd
            }),
        ),
        (
            "Adagrad",
            OptimizerConfig::Adagrad(AdagradConfig {
                lr,
                ..Default::default()
            }),
        ),
        (
            "Adadelta",
            OptimizerConfig::Adadelta(AdadeltaConfig {
                lr: 1.0,
                ..Default::default()
            }),
        ),
        (
            "RMSprop",
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr,
                ..Default::default()
            }),
        ),
        (
            "Adam",
            OptimizerConfig::Adam(AdamConfig {
                lr,
                ..Default::default()
            }),
        ),
        (
            "Nadam",
            OptimizerConfig::Nadam(NadamConfig {
                lr,
                ..Default::default()
            }),
        ),
    ]
}

/// Runs `steps` updates of the optimizer built from `config` on
/// [`saddle`], from `start`, with gradients from dfdx autodiff (f64 on
/// `Cpu`). `escaped_at` records the first step after which `|y| >
/// threshold`; the run continues to `steps` either way.
///
/// Errors: an invalid config ([`Error::InvalidConfig`](crate::Error::InvalidConfig)),
/// or a non-finite point (the optimizer diverged;
/// [`Error::NonFiniteLoss`](crate::Error::NonFiniteLoss) with the step as `batch`).
pub fn saddle_trajectory(
    label: &str,
    config: &OptimizerConfig,
    start: (f64, f64),
    steps: usize,
    threshold: f64,
) -> Result<Trajectory> {
    let dev = Cpu::default();
    let mut opt = config.build::<f64, Cpu>()?;
    let mut w: Tensor<Rank1<2>, f64, Cpu> = dev.tensor([start.0, start.1]);
    // f = sum(sign * w²) with sign = (+1, -1).
    let sign: Tensor<Rank1<2>, f64, Cpu> = dev.tensor([1.0, -1.0]);
    let mut points = Vec::with_capacity(steps + 1);
    points.push(start);
    let mut escaped_at = None;
    for step in 1..=steps {
        let f = (w.leaky_trace().square() * sign.clone()).try_sum().dev()?;
        let grads = f.try_backward().dev()?;
        opt.step(&mut w, &grads)?;
        let [x, y] = w.array();
        if !(x.is_finite() && y.is_finite()) {
            return Err(crate::Error::NonFiniteLoss {
                epoch: 0,
                batch: step,
                value: f64::NAN,
            });
        }
        points.push((x, y));
        if escaped_at.is_none() && y.abs() > threshold {
            escaped_at = Some(step);
        }
    }
    Ok(Trajectory {
        label: label.to_string(),
        points,
        escaped_at,
    })
}

/// [`saddle_trajectory`] for each `(label, config)`.
pub fn saddle_trajectories(
    optimizers: &[(&str, OptimizerConfig)],
    start: (f64, f64),
    steps: usize,
    threshold: f64,
) -> Result<Vec<Trajectory>> {
    optimizers
        .iter()
        .map(|(label, cfg)| saddle_trajectory(label, cfg, start, steps, threshold))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_gradient_descent_matches_the_closed_form() {
        // x_t = (1 - 2 lr)^t x0, y_t = (1 + 2 lr)^t y0.
        let cfg = OptimizerConfig::Sgd(SgdConfig {
            lr: 0.01,
            ..Default::default()
        });
        let t = saddle_trajectory("SGD", &cfg, (1.0, 1e-3), 50, 1.0).unwrap();
        assert_eq!(t.points.len(), 51);
        let (x, y) = t.last();
        assert!((x - 0.98f64.powi(50)).abs() < 1e-12, "{x}");
        assert!((y - 1e-3 * 1.02f64.powi(50)).abs() < 1e-15, "{y}");
        assert_eq!(t.escaped_at, None);
    }

    #[test]
    fn a_bad_config_is_an_error() {
        let cfg = OptimizerConfig::Adam(AdamConfig {
            lr: -1.0,
            ..Default::default()
        });
        assert!(saddle_trajectory("Adam", &cfg, (1.0, 0.0), 3, 1.0).is_err());
    }
}
