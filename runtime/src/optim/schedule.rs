//! Learning-rate schedules behind one trait, [`LrSchedule`]: given the epoch
//! about to start (0-based) and the last monitored metric (e.g. the previous
//! epoch's validation loss, `None` before the first), return the learning
//! rate to use for that epoch. Call it once per epoch and hand the result to
//! [`Optimizer::set_learning_rate`](super::Optimizer::set_learning_rate).
//!
//! ```
//! use sxima_runtime::optim::{LrSchedule, StepDecay};
//! let mut s = StepDecay::new(0.1, 10, 0.5).unwrap();
//! assert_eq!(s.lr(0, None), 0.1);
//! assert_eq!(s.lr(9, None), 0.1);
//! assert_eq!(s.lr(10, None), 0.05);
//! assert_eq!(s.lr(25, None), 0.025);
//! ```

use crate::error::{Error, Result};

/// A learning-rate schedule.
pub trait LrSchedule {
    /// The learning rate for `epoch` (0-based), given the last value of the
    /// monitored metric. Stateful schedules ([`ReduceOnPlateau`]) count each
    /// call with `Some(metric)` as one observation.
    fn lr(&mut self, epoch: usize, metric: Option<f64>) -> f64;
}

fn positive(what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(what, v, "must be finite and > 0"))
    }
}

fn factor_in_unit(what: &str, v: f64) -> Result<()> {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(Error::config(what, v, "must be in (0, 1)"))
    }
}

/// The same learning rate every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantLr(pub f64);

impl LrSchedule for ConstantLr {
    fn lr(&mut self, _epoch: usize, _metric: Option<f64>) -> f64 {
        self.0
    }
}

/// Step decay (PyTorch `StepLR`): `initial * gamma^floor(epoch / step_size)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    pub initial: f64,
    pub step_size: usize,
    pub gamma: f64,
}

impl StepDecay {
    /// `initial` > 0, `step_size` >= 1, `gamma` in (0, 1); else `Error::InvalidConfig`.
    pub fn new(initial: f64, step_size: usize, gamma: f64) -> Result<Self> {
        positive("initial learning rate", initial)?;
        if step_size == 0 {
            return Err(Error::config("step_size", step_size, "must be >= 1"));
        }
        factor_in_unit("gamma", gamma)?;
        Ok(Self {
            initial,
            step_size,
            gamma,
        })
    }
}

impl LrSchedule for StepDecay {
    fn lr(&mut self, epoch: usize, _metric: Option<f64>) -> f64 {
        self.initial * self.gamma.powi((epoch / self.step_size) as i32)
    }
}

/// Exponential decay (PyTorch `ExponentialLR`): `initial * gamma^epoch`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialDecay {
    pub initial: f64,
    pub gamma: f64,
}

impl ExponentialDecay {
    /// `initial` > 0, `gamma` in (0, 1); else `Error::InvalidConfig`.
    pub fn new(initial: f64, gamma: f64) -> Result<Self> {
        positive("initial learning rate", initial)?;
        factor_in_unit("gamma", gamma)?;
        Ok(Self { initial, gamma })
    }
}

impl LrSchedule for ExponentialDecay {
    fn lr(&mut self, epoch: usize, _metric: Option<f64>) -> f64 {
        self.initial * self.gamma.powi(epoch as i32)
    }
}

/// Cosine annealing (PyTorch `CosineAnnealingLR`'s closed form, without
/// restarts): `eta_min + (initial - eta_min) * (1 + cos(pi * epoch / t_max)) / 2`
/// for `epoch <= t_max`, then `eta_min` (it does not climb back up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealing {
    pub initial: f64,
    pub t_max: usize,
    pub eta_min: f64,
}

impl CosineAnnealing {
    /// `initial` > 0, `t_max` >= 1, `0 <= eta_min <= initial`; else `Error::InvalidConfig`.
    pub fn new(initial: f64, t_max: usize, eta_min: f64) -> Result<Self> {
        positive("initial learning rate", initial)?;
        if t_max == 0 {
            return Err(Error::config("t_max", t_max, "must be >= 1"));
        }
        if !(eta_min >= 0.0 && eta_min <= initial) {
            return Err(Error::config(
                "eta_min",
                eta_min,
                format!("must be in [0, initial = {initial}]"),
            ));
        }
        Ok(Self {
            initial,
            t_max,
            eta_min,
        })
    }
}

impl LrSchedule for CosineAnnealing {
    fn lr(&mut self, epoch: usize, _metric: Option<f64>) -> f64 {
        let t = epoch.min(self.t_max) as f64 / self.t_max as f64;
        self.eta_min
            + (self.initial - self.eta_min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    }
}

/// Whether a smaller or a larger metric is better for [`ReduceOnPlateau`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// Loss-like metrics (the default).
    #[default]
    Min,
    /// Accuracy-like metrics.
    Max,
}

/// Reduce on plateau (PyTorch `ReduceLROnPlateau`, relative threshold):
/// a metric is an improvement when it beats the best so far by more than
/// `threshold` relative (`m < best * (1 - threshold)` in `Min` mode); after
/// more than `patience` observations without improvement the learning rate
/// is multiplied by `factor` (not below `min_lr`), the count restarts and
/// the next `cooldown` observations are ignored.
///
/// ```
/// use sxima_runtime::optim::{LrSchedule, ReduceOnPlateau};
/// let mut s = ReduceOnPlateau::new(1.0, 0.5, 1, 0.1).unwrap();
/// assert_eq!(s.lr(0, None), 1.0);
/// assert_eq!(s.lr(1, Some(3.0)), 1.0); // best = 3
/// assert_eq!(s.lr(2, Some(3.0)), 1.0); // 1 bad epoch (= patience)
/// assert_eq!(s.lr(3, Some(3.0)), 0.5); // 2 bad epochs > patience: halve
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    /// Current learning rate.
    pub current: f64,
    /// Multiplier applied on a plateau, in (0, 1).
    pub factor: f64,
    /// Observations without improvement tolerated before reducing.
    pub patience: usize,
    /// Lower bound of the learning rate (>= 0).
    pub min_lr: f64,
    /// Relative improvement needed to count as better (>= 0; PyTorch 1e-4).
    pub threshold: f64,
    /// Observations ignored after a reduction (PyTorch 0).
    pub cooldown: usize,
    /// Smaller or larger is better.
    pub mode: PlateauMode,
    best: Option<f64>,
    bad_epochs: usize,
    cooldown_left: usize,
}

impl ReduceOnPlateau {
    /// Starts at `initial`, with `threshold` 1e-4, `cooldown` 0 and
    /// [`PlateauMode::Min`] (PyTorch's defaults; the fields are public).
    /// `initial` > 0, `factor` in (0, 1), `min_lr` >= 0; else `Error::InvalidConfig`.
    pub fn new(initial: f64, factor: f64, patience: usize, min_lr: f64) -> Result<Self> {
        positive("initial learning rate", initial)?;
        factor_in_unit("factor", factor)?;
        if !(min_lr.is_finite() && min_lr >= 0.0) {
            return Err(Error::config("min_lr", min_lr, "must be finite and >= 0"));
        }
        Ok(Self {
            current: initial,
            factor,
            patience,
            min_lr,
            threshold: 1e-4,
            cooldown: 0,
            mode: PlateauMode::Min,
            best: None,
            bad_epochs: 0,
            cooldown_left: 0,
        })
    }

    fn is_better(&self, m: f64, best: f64) -> bool {
        match self.mode {
            PlateauMode::Min => m < best * (1.0 - self.threshold),
            PlateauMode::Max => m > best * (1.0 + self.threshold),
        }
    }
}

impl LrSchedule for ReduceOnPlateau {
    fn lr(&mut self, _epoch: usize, metric: Option<f64>) -> f64 {
        let Some(m) = metric else {
            return self.current;
        };
        if m.is_nan() {
            // A NaN metric is never an improvement.
            self.bad_epochs += 1;
        } else {
            let improved = match self.best {
                None => true,
                Some(b) => self.is_better(m, b),
            };
            if improved {
                self.best = Some(m);
                self.bad_epochs = 0;
            } else {
                self.bad_epochs += 1;
            }
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.patience {
            let new = (self.current * self.factor).max(self.min_lr);
            if self.current - new > 1e-8 {
                self.current = new;
            }
            self.cooldown_left = self.cooldown;
            self.bad_epochs = 0;
        }
        self.current
    }
}

/// One-cycle policy (PyTorch `OneCycleLR` with `anneal_strategy = "cos"`,
/// two phases, no momentum cycling), one step per call: the rate climbs from
/// `max_lr / div_factor` to `max_lr` over the first `pct_start` of
/// `total_steps`, then anneals to `max_lr / (div_factor * final_div_factor)`
/// at the last step (cosine both ways). Called once per epoch by `fit`'s
/// [`LrScheduler`](crate::train::callbacks::LrScheduler), a step is an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCycle {
    pub max_lr: f64,
    pub total_steps: usize,
    /// Fraction of the steps spent climbing (PyTorch's default 0.3).
    pub pct_start: f64,
    /// `initial = max_lr / div_factor` (default 25).
    pub div_factor: f64,
    /// `final = initial / final_div_factor` (default 1e4).
    pub final_div_factor: f64,
}

impl OneCycle {
    /// PyTorch's defaults (`pct_start` 0.3, `div_factor` 25,
    /// `final_div_factor` 1e4); `max_lr` > 0 and `total_steps` >= 2, else
    /// `Error::InvalidConfig`.
    pub fn new(max_lr: f64, total_steps: usize) -> Result<Self> {
        positive("max_lr", max_lr)?;
        if total_steps < 2 {
            return Err(Error::config("total_steps", total_steps, "must be >= 2"));
        }
        Ok(Self {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        })
    }

    /// The rate at `step` (0-based; steps past the end stay at the final rate).
    pub fn at(&self, step: usize) -> f64 {
        let initial = self.max_lr / self.div_factor;
        let last = initial / self.final_div_factor;
        let cos = |start: f64, end: f64, pct: f64| {
            end + (start - end) / 2.0 * (1.0 + (std::f64::consts::PI * pct).cos())
        };
        // PyTorch's phase ends: `pct_start * total - 1`, then `total - 1`.
        let peak = self.pct_start * self.total_steps as f64 - 1.0;
        let end = (self.total_steps - 1) as f64;
        let s = (step as f64).min(end);
        if s <= peak {
            cos(
                initial,
                self.max_lr,
                if peak > 0.0 { s / peak } else { 1.0 },
            )
        } else {
            cos(self.max_lr, last, (s - peak) / (end - peak))
        }
    }
}

impl LrSchedule for OneCycle {
    fn lr(&mut self, epoch: usize, _metric: Option<f64>) -> f64 {
        self.at(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_exponential_decay_exact_values() {
        let mut s = StepDecay::new(0.1, 3, 0.1).unwrap();
        let got: Vec<f64> = (0..7).map(|e| s.lr(e, None)).collect();
        let want = [
            0.1,
            0.1,
            0.1,
            0.1 * 0.1,
            0.1 * 0.1,
            0.1 * 0.1,
            0.1 * 0.1 * 0.1,
        ];
        assert_eq!(got, want);
        let mut e = ExponentialDecay::new(2.0, 0.5).unwrap();
        assert_eq!(
            (0..4).map(|i| e.lr(i, Some(1.0))).collect::<Vec<_>>(),
            [2.0, 1.0, 0.5, 0.25]
        );
    }

    #[test]
    fn cosine_annealing_hits_the_textbook_points() {
        let mut c = CosineAnnealing::new(1.0, 4, 0.0).unwrap();
        let got: Vec<f64> = (0..7).map(|e| c.lr(e, None)).collect();
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let want = [1.0, 0.5 + 0.5 * s, 0.5, 0.5 - 0.5 * s, 0.0, 0.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
        let mut c = CosineAnnealing::new(0.1, 2, 0.01).unwrap();
        assert_eq!(c.lr(0, None), 0.1);
        assert!((c.lr(1, None) - 0.055).abs() < 1e-15);
        assert_eq!(c.lr(2, None), 0.01);
    }

    #[test]
    fn plateau_reduces_after_patience_and_respects_min_lr_and_cooldown() {
        let mut p = ReduceOnPlateau::new(1.0, 0.1, 2, 0.005).unwrap();
        let metrics = [
            5.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0,
        ];
        let got: Vec<f64> = metrics.iter().map(|&m| p.lr(0, Some(m))).collect();
        // improvements at 5, 4, 3; plateaus of 3 bad observations trigger.
        let want = [
            1.0,
            1.0,
            1.0,
            1.0,
            0.1,
            0.1,
            0.1,
            0.1,
            0.1 * 0.1,
            0.1 * 0.1,
            0.1 * 0.1,
            0.005,
            0.005,
        ];
        assert_eq!(got, want);
        // No metric: unchanged, not counted.
        assert_eq!(p.lr(0, None), 0.005);

        let mut p = ReduceOnPlateau::new(1.0, 0.5, 0, 0.0).unwrap();
        p.cooldown = 1;
        p.mode = PlateauMode::Max;
        let got: Vec<f64> = [0.5, 0.4, 0.4, 0.4, 0.6]
            .iter()
            .map(|&m| p.lr(0, Some(m)))
            .collect();
        // 0.4 < best 0.5 (max mode) -> reduce; next one is cooled down; then reduce again.
        assert_eq!(got, [1.0, 0.5, 0.5, 0.25, 0.25]);
    }

    #[test]
    fn plateau_threshold_is_relative() {
        let mut p = ReduceOnPlateau::new(1.0, 0.5, 0, 0.0).unwrap();
        p.threshold = 0.1;
        assert_eq!(p.lr(0, Some(1.0)), 1.0);
        // 0.95 is not 10% better than 1.0: a bad epoch, patience 0 -> reduce.
        assert_eq!(p.lr(0, Some(0.95)), 0.5);
        // 0.85 is 15% better: no reduction.
        assert_eq!(p.lr(0, Some(0.85)), 0.5);
    }

    #[test]
    fn one_cycle_matches_pytorch() {
        // torch 2.15: OneCycleLR(SGD(lr=1), max_lr=3e-3, total_steps=10,
        // anneal_strategy="cos", cycle_momentum=False), lr before each step.
        let torch = [
            0.00011999999999999988,
            0.00156,
            0.003,
            0.002851453896040421,
            0.0024352369618492894,
            0.0018337860658088677,
            0.0011662259341911321,
            0.0005647750381507109,
            0.00014855810395957884,
            1.2e-08,
        ];
        let mut s = OneCycle::new(3e-3, 10).unwrap();
        for (e, want) in torch.iter().enumerate() {
            let got = s.lr(e, None);
            assert!(
                (got - want).abs() <= 1e-12 * want.max(1e-3),
                "{e}: {got} vs {want}"
            );
        }
        assert_eq!(s.lr(10, None), s.lr(9, None));
        assert!(OneCycle::new(0.0, 10).is_err());
        assert!(OneCycle::new(1e-3, 1).is_err());
    }

    #[test]
    fn bad_configs_are_errors() {
        assert!(StepDecay::new(0.0, 1, 0.5).is_err());
        assert!(StepDecay::new(0.1, 0, 0.5).is_err());
        assert!(StepDecay::new(0.1, 1, 1.5).is_err());
        assert!(ExponentialDecay::new(-1.0, 0.5).is_err());
        assert!(CosineAnnealing::new(0.1, 0, 0.0).is_err());
        assert!(CosineAnnealing::new(0.1, 5, 0.2).is_err());
        assert!(ReduceOnPlateau::new(0.1, 1.0, 1, 0.0).is_err());
        assert!(ReduceOnPlateau::new(0.1, 0.5, 1, -1.0).is_err());
        assert!(matches!(
            StepDecay::new(f64::NAN, 1, 0.5),
            Err(Error::InvalidConfig { .. })
        ));
    }
}
