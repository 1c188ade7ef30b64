//! [`CsvLogger`] and [`JsonLogger`]: rewrite the history file (atomically)
//! after every epoch, so a crashed run leaves its record behind. The target
//! folder is checked before training starts.

use std::path::{Path, PathBuf};

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use super::{Callback, Control};
use crate::elem::Elem;
use crate::error::Result;
use crate::train::checkpoint::check_save_target;
use crate::train::history::{EpochLogs, History};

/// Writes the history so far as CSV to `path` after every epoch.
#[derive(Debug, Clone)]
pub struct CsvLogger {
    pub path: PathBuf,
    history: History,
}

/// Writes the history so far as JSON to `path` after every epoch.
#[derive(Debug, Clone)]
pub struct JsonLogger {
    pub path: PathBuf,
    history: History,
}

impl CsvLogger {
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            history: History::default(),
        }
    }
}

impl JsonLogger {
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            history: History::default(),
        }
    }
}

impl<E: Elem, D: Device<E>, M: TensorCollection<E, D>> Callback<E, D, M> for CsvLogger {
    fn on_train_begin(&mut self, _model: &M, history: &History) -> Result<()> {
        self.history = history.clone();
        check_save_target(&self.path)
    }
    fn on_epoch_end(&mut self, _model: &M, logs: &EpochLogs, _control: &mut Control) -> Result<()> {
        self.history.epochs.push(logs.clone());
        self.history.to_csv(&self.path)
    }
}

impl<E: Elem, D: Device<E>, M: TensorCollection<E, D>> Callback<E, D, M> for JsonLogger {
    fn on_train_begin(&mut self, _model: &M, history: &History) -> Result<()> {
        self.history = history.clone();
        check_save_target(&self.path)
    }
    fn on_epoch_end(&mut self, _model: &M, logs: &EpochLogs, _control: &mut Control) -> Result<()> {
        self.history.epochs.push(logs.clone());
        self.history.to_json(&self.path)
    }
    fn on_train_end(&mut self, _model: &mut M, history: &History) -> Result<()> {
        history.to_json(&self.path)
    }
}
