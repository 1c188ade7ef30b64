//! Callbacks: code `fit` calls around each epoch, in the manner of Keras.
//! A callback sees the logs of each finished epoch and may stop training or
//! change the learning rate through [`Control`].
//!
//! * [`EarlyStopping`]: stop when a monitored value stops improving.
//! * [`ModelCheckpoint`]: save the model (every epoch or best only).
//! * [`CsvLogger`], [`JsonLogger`]: keep the history on disk as training runs.
//! * [`LrScheduler`]: set the learning rate before each epoch.

mod early_stopping;
mod logger;
mod lr_scheduler;
mod model_checkpoint;

pub use early_stopping::EarlyStopping;
pub use logger::{CsvLogger, JsonLogger};
pub use lr_scheduler::{LrSchedule, LrScheduler};
pub use model_checkpoint::ModelCheckpoint;

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::{Error, Result};
use crate::train::history::{EpochLogs, History};

/// What a callback may change in the running `fit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// The optimizer's learning rate; a new value takes effect for the next
    /// steps (set in `on_epoch_begin` for the coming epoch).
    pub lr: f64,
    /// Set to stop training after the current epoch.
    pub stop: bool,
}

/// Hooks `fit` calls. All methods but `on_epoch_end` have empty defaults.
/// Epoch numbers are 1-based, as in the logs.
pub trait Callback<E: Elem, D: Device<E>, M: TensorCollection<E, D>> {
    /// Before the first epoch; `history` holds earlier epochs when resuming.
    fn on_train_begin(&mut self, _model: &M, _history: &History) -> Result<()> {
        Ok(())
    }
    /// Before epoch `epoch`; `last` is the previous epoch's logs.
    fn on_epoch_begin(
        &mut self,
        _epoch: usize,
        _last: Option<&EpochLogs>,
        _control: &mut Control,
    ) -> Result<()> {
        Ok(())
    }
    /// After each epoch (training and validation done).
    fn on_epoch_end(&mut self, model: &M, logs: &EpochLogs, control: &mut Control) -> Result<()>;
    /// After the last epoch (also after a stop); may change the model
    /// (e.g. restore the best weights).
    fn on_train_end(&mut self, _model: &mut M, _history: &History) -> Result<()> {
        Ok(())
    }
}

/// Whether a monitored value should go down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    Min,
    Max,
    /// `Max` when the name contains `acc`, else `Min` (Keras's rule).
    #[default]
    Auto,
}

impl Mode {
    /// `Min` or `Max` for the monitored key.
    pub fn resolve(self, monitor: &str) -> Mode {
        match self {
            Mode::Auto if monitor.contains("acc") => Mode::Max,
            Mode::Auto => Mode::Min,
            m => m,
        }
    }
    /// True when `value` beats `best` by more than `min_delta`.
    pub fn improved(self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => value.is_finite(),
            Some(b) => match self {
                Mode::Max => value > b + min_delta,
                _ => value < b - min_delta,
            },
        }
    }
}

/// The value of `monitor` in `logs`, or a config error naming what exists.
pub(crate) fn monitored(logs: &EpochLogs, monitor: &str) -> Result<f64> {
    logs.get(monitor).ok_or_else(|| {
        let mut keys = vec!["loss".to_string()];
        keys.extend(logs.metrics.keys().cloned());
        if logs.val_loss.is_some() {
            keys.push("val_loss".into());
        }
        keys.extend(logs.val_metrics.keys().map(|k| format!("val_{k}")));
        Error::config(
            "monitor",
            monitor,
            format!("not in the logs (available: {})", keys.join(", ")),
        )
    })
}
