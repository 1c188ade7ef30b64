//! Validation of optimizer hyper-parameters: each check names the setting,
//! the value and the rule it breaks ([`Error::InvalidConfig`]).

use crate::error::{Error, Result};

/// Checks a hyper-parameter, returning [`Error::InvalidConfig`] naming it.
pub(crate) fn check(ok: bool, what: &str, value: f64, rule: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config(what, value, rule))
    }
}

/// Validates a learning rate (finite, > 0).
pub(crate) fn check_lr(lr: f64) -> Result<()> {
    check(
        lr.is_finite() && lr > 0.0,
        "learning rate",
        lr,
        "must be finite and > 0",
    )
}

/// Validates a learning rate given to [`Optimizer::set_learning_rate`]
/// (schedules, callbacks, user code): finite and >= 0. Zero is allowed
/// because schedules end there (cosine annealing to `eta_min = 0`, as in
/// PyTorch); `fit` refuses to *start* with 0 (see `fit`'s docs).
///
/// [`Optimizer::set_learning_rate`]: super::Optimizer::set_learning_rate
pub(crate) fn check_set_lr(lr: f64) -> Result<()> {
    check(
        lr.is_finite() && lr >= 0.0,
        "learning rate",
        lr,
        "set by Optimizer::set_learning_rate: must be finite and >= 0",
    )
}

/// Validates a coefficient that must lie in `[0, 1)`.
pub(crate) fn check_unit(what: &str, v: f64) -> Result<()> {
    check((0.0..1.0).contains(&v), what, v, "must be in [0, 1)")
}

/// Validates a non-negative finite coefficient.
pub(crate) fn check_nonneg(what: &str, v: f64) -> Result<()> {
    check(
        v.is_finite() && v >= 0.0,
        what,
        v,
        "must be finite and >= 0",
    )
}
