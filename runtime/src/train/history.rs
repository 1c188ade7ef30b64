//! The record of a training run: one [`EpochLogs`] per epoch, written as CSV
//! or JSON and read back from JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::checkpoint::atomic_write;

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLogs {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub loss: f64,
    /// Mean of each named term of the training loss over the epoch's
    /// samples, when the loss has more than one: the data loss under its
    /// loss's name (`"mse"`, `"bce_sum"`) and each penalty the model declares
    /// under its name (`"code.sparsity_kl"`, `"encoder.z.kl"`), unweighted;
    /// or a multi-output objective's terms. `loss` is their weighted total.
    /// Empty (and absent from JSON and CSV) for a plain loss.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub terms: BTreeMap<String, f64>,
    /// Training metrics by name (`"acc"`).
    pub metrics: BTreeMap<String, f64>,
    /// Mean validation loss, when there is validation data.
    pub val_loss: Option<f64>,
    /// Validation metrics by name without prefix (`"acc"` for `val_acc`).
    pub val_metrics: BTreeMap<String, f64>,
    /// Learning rate used during the epoch.
    pub lr: f64,
    /// Wall time of the epoch (training + validation) in seconds.
    pub elapsed_s: f64,
    /// Mean L2 norm of each parameter's gradient over the epoch's steps,
    /// keyed by parameter path (`"fc1.weight"`).
    pub grad_norms: BTreeMap<String, f64>,
}

impl EpochLogs {
    /// A logged value by Keras name: `loss`, `val_loss`, `lr`, `elapsed_s`,
    /// a loss term (`mse`, `code.sparsity_kl`), a metric (`acc`) or a
    /// validation metric (`val_acc`).
    pub fn get(&self, key: &str) -> Option<f64> {
        match key {
            "loss" => Some(self.loss),
            "val_loss" => self.val_loss,
            "lr" => Some(self.lr),
            "elapsed_s" => Some(self.elapsed_s),
            "epoch" => Some(self.epoch as f64),
            _ => {
                if let Some(v) = self.terms.get(key) {
                    return Some(*v);
                }
                if let Some(v) = self.metrics.get(key) {
                    return Some(*v);
                }
                key.strip_prefix("val_")
                    .and_then(|k| self.val_metrics.get(k).copied())
            }
        }
    }
}

/// All epochs of a run (or of several runs continued with `initial_epoch`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Name of the loss (`"mse"`, `"cross_entropy"`).
    pub loss_name: String,
    /// One entry per completed epoch, in order.
    pub epochs: Vec<EpochLogs>,
    /// Epoch (1-based) at which a callback stopped training, if one did.
    pub stopped_at: Option<usize>,
}

fn csv_field(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{v}"),
        None => String::new(),
    }
}

impl History {
    /// The values of `key` (see [`EpochLogs::get`]) for every epoch that has it.
    pub fn series(&self, key: &str) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.get(key)).collect()
    }

    /// The last epoch's logs.
    pub fn last(&self) -> Option<&EpochLogs> {
        self.epochs.last()
    }

    /// Loss term names present in any epoch ([`EpochLogs::terms`]), sorted.
    pub fn term_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|e| e.terms.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Metric names present in any epoch (training side), sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|e| e.metrics.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Column names of [`to_csv_string`](Self::to_csv_string).
    pub fn csv_columns(&self) -> Vec<String> {
        let metrics = self.metric_names();
        let mut val: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|e| e.val_metrics.keys().cloned())
            .collect();
        val.sort();
        val.dedup();
        let mut grads: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|e| e.grad_norms.keys().cloned())
            .collect();
        grads.sort();
        grads.dedup();
        let mut cols = vec!["epoch".to_string(), "loss".to_string()];
        cols.extend(self.term_names());
        cols.extend(metrics);
        cols.push("val_loss".into());
        cols.extend(val.into_iter().map(|m| format!("val_{m}")));
        cols.push("lr".into());
        cols.push("elapsed_s".into());
        cols.extend(grads.into_iter().map(|g| format!("grad_norm:{g}")));
        cols
    }

    /// The history as CSV: a header row of [`csv_columns`](Self::csv_columns),
    /// then one row per epoch; missing values are empty fields.
    pub fn to_csv_string(&self) -> String {
        let cols = self.csv_columns();
        let mut out = cols.join(",");
        out.push('\n');
        for e in &self.epochs {
            let row: Vec<String> = cols
                .iter()
                .map(|c| match c.strip_prefix("grad_norm:") {
                    Some(g) => csv_field(e.grad_norms.get(g).copied()),
                    None => csv_field(e.get(c)),
                })
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }

    /// Writes [`to_csv_string`](Self::to_csv_string) to `path` (atomically).
    pub fn to_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic_write(path.as_ref(), self.to_csv_string().as_bytes())
    }

    /// The history as pretty-printed JSON.
    pub fn to_json_string(&self) -> String {
        // Serialising plain maps, strings and floats cannot fail (serde_json
        // writes non-finite floats as `null`); an empty object stands in if
        // it ever did.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Writes [`to_json_string`](Self::to_json_string) to `path` (atomically).
    pub fn to_json(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic_write(path.as_ref(), self.to_json_string().as_bytes())
    }

    /// Reads a history written by [`to_json`](Self::to_json).
    pub fn from_json(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::data(path.display(), "a history as JSON", e.to_string()))
    }
}
