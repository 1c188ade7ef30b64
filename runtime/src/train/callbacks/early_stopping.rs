//! [`EarlyStopping`]: stop when a monitored value has not improved for
//! `patience` epochs, optionally restoring the best weights.

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use super::{monitored, Callback, Control, Mode};
use crate::elem::Elem;
use crate::error::Result;
use crate::train::history::{EpochLogs, History};

/// Stops training when `monitor` stops improving (Keras semantics).
/// With `restore_best_weights` it keeps a clone of the model at its best
/// epoch and puts it back when training ends.
#[derive(Debug, Clone)]
pub struct EarlyStopping<M> {
    pub monitor: String,
    pub patience: usize,
    pub min_delta: f64,
    pub mode: Mode,
    pub restore_best_weights: bool,
    best: Option<f64>,
    best_epoch: Option<usize>,
    wait: usize,
    best_model: Option<M>,
    stopped_epoch: Option<usize>,
}

impl<M> EarlyStopping<M> {
    /// Monitors `monitor` (`"val_loss"`, `"val_acc"`, ...) with the given patience.
    pub fn new(monitor: &str, patience: usize) -> Self {
        Self {
            monitor: monitor.to_string(),
            patience,
            min_delta: 0.0,
            mode: Mode::Auto,
            restore_best_weights: false,
            best: None,
            best_epoch: None,
            wait: 0,
            best_model: None,
            stopped_epoch: None,
        }
    }
    /// Minimum change that counts as an improvement.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.min_delta = d.abs();
        self
    }
    /// Direction of improvement.
    pub fn mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }
    /// Restore the best model when training ends.
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best_weights = on;
        self
    }
    /// Best value seen and its (1-based) epoch.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best.zip(self.best_epoch)
    }
    /// The epoch at which this callback stopped training.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

impl<E: Elem, D: Device<E>, M: TensorCollection<E, D> + Clone> Callback<E, D, M>
    for EarlyStopping<M>
{
    fn on_train_begin(&mut self, _model: &M, _history: &History) -> Result<()> {
        self.best = None;
        self.best_epoch = None;
        self.wait = 0;
        self.best_model = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, model: &M, logs: &EpochLogs, control: &mut Control) -> Result<()> {
        let v = monitored(logs, &self.monitor)?;
        let mode = self.mode.resolve(&self.monitor);
        if mode.improved(v, self.best, self.min_delta) {
            self.best = Some(v);
            self.best_epoch = Some(logs.epoch);
            self.wait = 0;
            if self.restore_best_weights {
                self.best_model = Some(model.clone());
            }
        } else {
            self.wait += 1;
            if self.wait >= self.patience {
                self.stopped_epoch = Some(logs.epoch);
                control.stop = true;
            }
        }
        Ok(())
    }

    fn on_train_end(&mut self, model: &mut M, _history: &History) -> Result<()> {
        if let Some(best) = self.best_model.take() {
            *model = best;
        }
        Ok(())
    }
}
