//! [`LrScheduler`]: sets the learning rate before every epoch from an
//! [`LrSchedule`] (any `FnMut(epoch, last_logs) -> lr` closure, or a schedule
//! type implementing the trait).

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use super::{Callback, Control};
use crate::elem::Elem;
use crate::error::{Error, Result};
use crate::train::history::EpochLogs;

/// A learning rate per epoch.
pub trait LrSchedule {
    /// Learning rate for `epoch` (0-based index of the epoch about to start);
    /// `last` holds the previous epoch's logs (`None` before the first), so
    /// plateau-style schedules can react to the monitored values.
    fn lr(&mut self, epoch: usize, last: Option<&EpochLogs>) -> f64;
}

impl<F: FnMut(usize, Option<&EpochLogs>) -> f64> LrSchedule for F {
    fn lr(&mut self, epoch: usize, last: Option<&EpochLogs>) -> f64 {
        self(epoch, last)
    }
}

/// Applies an [`LrSchedule`] at the beginning of every epoch.
pub struct LrScheduler<S> {
    pub schedule: S,
}

impl<S: LrSchedule> LrScheduler<S> {
    pub fn new(schedule: S) -> Self {
        Self { schedule }
    }
}

impl<E: Elem, D: Device<E>, M: TensorCollection<E, D>, S: LrSchedule> Callback<E, D, M>
    for LrScheduler<S>
{
    fn on_epoch_begin(
        &mut self,
        epoch: usize,
        last: Option<&EpochLogs>,
        control: &mut Control,
    ) -> Result<()> {
        let lr = self.schedule.lr(epoch - 1, last);
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::config(
                "learning rate",
                lr,
                format!("the schedule gave it for epoch {epoch}; it must be finite and > 0"),
            ));
        }
        control.lr = lr;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _model: &M,
        _logs: &EpochLogs,
        _control: &mut Control,
    ) -> Result<()> {
        Ok(())
    }
}
