//! [`ModelCheckpoint`]: save the model after each epoch, or only when a
//! monitored value improves, as an atomically written safetensors file that
//! records the model's identity and checksums ([`model_file::save_model`]).
//! The target folder is checked before training starts, so a typo fails
//! before epoch 1 instead of after it.

use std::path::{Path, PathBuf};

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use super::{monitored, Callback, Control, Mode};
use crate::elem::Elem;
use crate::error::Result;
use crate::model::ModelInfo;
use crate::train::history::{EpochLogs, History};
use crate::train::{checkpoint, model_file};

/// Saves the model to `path` (`{epoch}` in the path is replaced by the
/// 1-based epoch number) after every epoch, or with `best_only` when
/// `monitor` improves.
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    pub path: PathBuf,
    pub monitor: String,
    pub mode: Mode,
    pub best_only: bool,
    best: Option<f64>,
    saved: Vec<(usize, PathBuf)>,
}

impl ModelCheckpoint {
    /// Saves every epoch to `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            monitor: "val_loss".into(),
            mode: Mode::Auto,
            best_only: false,
            best: None,
            saved: Vec::new(),
        }
    }
    /// Saves only when `monitor` improves.
    pub fn best_only(mut self, monitor: &str) -> Self {
        self.monitor = monitor.to_string();
        self.best_only = true;
        self
    }
    /// Direction of improvement.
    pub fn mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }
    /// `(epoch, path)` of every save so far.
    pub fn saved(&self) -> &[(usize, PathBuf)] {
        &self.saved
    }
    /// Best monitored value so far (best-only mode).
    pub fn best(&self) -> Option<f64> {
        self.best
    }
    fn path_for(&self, epoch: usize) -> PathBuf {
        PathBuf::from(
            self.path
                .to_string_lossy()
                .replace("{epoch}", &epoch.to_string()),
        )
    }
}

impl<E: Elem, D: Device<E>, M: TensorCollection<E, D> + ModelInfo> Callback<E, D, M>
    for ModelCheckpoint
{
    /// Errors (before any epoch) when the target's folder does not exist.
    fn on_train_begin(&mut self, _model: &M, _history: &History) -> Result<()> {
        self.best = None;
        checkpoint::check_save_target(&self.path_for(1))
    }

    fn on_epoch_end(&mut self, model: &M, logs: &EpochLogs, _control: &mut Control) -> Result<()> {
        if self.best_only {
            let v = monitored(logs, &self.monitor)?;
            let mode = self.mode.resolve(&self.monitor);
            if !mode.improved(v, self.best, 0.0) {
                return Ok(());
            }
            self.best = Some(v);
        }
        let path = self.path_for(logs.epoch);
        model_file::save_model(model, &path)?;
        self.saved.push((logs.epoch, path));
        Ok(())
    }
}
