//! Progress output on stderr: an `indicatif` bar per epoch (loss so far,
//! samples/s) when stderr is a terminal, and a plain line per epoch:
//! `epoch 3/10  loss 0.1234  acc 96.1%  val_loss 0.1500  val_acc 95.2%  12.3s`;
//! a loss made of several terms shows each after the total:
//! `loss 0.1534 (mse 0.1234, code.sparsity_kl 0.3000)`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::config::Verbosity;
use crate::train::history::EpochLogs;
use crate::train::metrics::Metric;
use crate::train::terms::TermSums;

/// ` (mse 0.1234, code.kl 0.3000)` for named terms, empty without any.
fn terms_text<'a>(terms: impl IntoIterator<Item = (&'a String, &'a f64)>) -> String {
    let parts: Vec<String> = terms
        .into_iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// The per-epoch line, without trailing newline. `metrics` gives each
/// metric's name and formatter in column order.
pub fn epoch_line(logs: &EpochLogs, epochs: usize, metrics: &[&dyn Metric]) -> String {
    let mut s = format!("epoch {}/{}  loss {:.4}", logs.epoch, epochs, logs.loss);
    s.push_str(&terms_text(&logs.terms));
    for m in metrics {
        if let Some(v) = logs.metrics.get(&m.name()) {
            s.push_str(&format!("  {} {}", m.name(), m.format(*v)));
        }
    }
    if let Some(v) = logs.val_loss {
        s.push_str(&format!("  val_loss {v:.4}"));
    }
    for m in metrics {
        if let Some(v) = logs.val_metrics.get(&m.name()) {
            s.push_str(&format!("  val_{} {}", m.name(), m.format(*v)));
        }
    }
    if logs.elapsed_s < 1.0 {
        s.push_str(&format!("  {:.0}ms", logs.elapsed_s * 1000.0));
    } else {
        s.push_str(&format!("  {:.1}s", logs.elapsed_s));
    }
    s
}

/// Progress reporter used by `fit`.
pub(crate) struct Progress {
    mode: Verbosity,
    epochs: usize,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(verbosity: Verbosity, epochs: usize) -> Self {
        let mode = match verbosity {
            Verbosity::Auto if std::io::stderr().is_terminal() => Verbosity::Bar,
            Verbosity::Auto => Verbosity::Lines,
            v => v,
        };
        Self {
            mode,
            epochs,
            bar: None,
        }
    }

    pub(crate) fn epoch_begin(&mut self, epoch: usize, samples: usize) {
        if self.mode == Verbosity::Bar {
            let bar = ProgressBar::new(samples as u64);
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len}  {msg}  eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{}", self.epochs));
            self.bar = Some(bar);
        }
    }

    pub(crate) fn batch_end(&mut self, samples_done: usize, mean_loss: f64, terms: &TermSums) {
        if let Some(bar) = &self.bar {
            let terms = terms_text(&terms.means());
            bar.set_position(samples_done as u64);
            let secs = bar.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "loss {mean_loss:.4}{terms}  {:.0} samples/s",
                samples_done as f64 / secs
            ));
        }
    }

    pub(crate) fn epoch_end(&mut self, logs: &EpochLogs, metrics: &[&dyn Metric]) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != Verbosity::Silent {
            eprintln!("{}", epoch_line(logs, self.epochs, metrics));
        }
    }

    pub(crate) fn warn(&self, line: &str) {
        if self.mode != Verbosity::Silent {
            eprintln!("{line}");
        }
    }
}

impl Progress {
    /// Clears a running bar without printing (the run is ending with an error).
    pub(crate) fn epoch_end_silent(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
