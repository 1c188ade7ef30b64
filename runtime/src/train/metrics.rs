//! Metrics: numbers reported beside the loss each epoch. A [`Metric`] is
//! stateless: it scores a batch of host-side predictions and returns the sum
//! of per-sample scores and the number of samples, so `fit` can average over
//! an epoch exactly (partial batches included).

use crate::data::Targets;
use crate::error::{Error, Result};

/// A per-sample score averaged over an epoch.
pub trait Metric {
    /// Column name in logs and history (`"acc"`, `"top5_acc"`, `"mae"`);
    /// validation columns get a `val_` prefix.
    fn name(&self) -> String;
    /// Scores a batch: `pred` holds `targets.len()` rows of `width` values.
    /// Returns `(sum of scores, number of samples)`.
    fn score(&self, pred: &[f32], width: usize, targets: &Targets) -> Result<(f64, usize)>;
    /// Whether larger values are better (used by `Mode::Auto` monitors).
    fn higher_is_better(&self) -> bool {
        true
    }
    /// Formats a value for the progress line (`96.1%`, `0.0123`).
    fn format(&self, v: f64) -> String {
        format!("{v:.4}")
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn check_rows(name: &str, pred: &[f32], width: usize, n: usize) -> Result<()> {
    if width == 0 || pred.len() != n * width {
        return Err(Error::Shape {
            what: format!("{name}: predictions for {n} samples of width {width}"),
            expected: vec![n, width],
            got: vec![pred.len()],
        });
    }
    Ok(())
}

/// The class a target row or label stands for; `None` for multi-valued
/// regression targets of width 1 handled by the caller.
fn target_class(targets: &Targets, i: usize) -> usize {
    match targets {
        Targets::Classes(l) | Targets::StepClasses { labels: l, .. } => l[i],
        Targets::Values { width, data } => {
            let row = &data[i * width..(i + 1) * width];
            if *width == 1 {
                (row[0] > 0.5) as usize
            } else {
                argmax(row)
            }
        }
    }
}

/// The rows a classification metric scores, and their width: one per sample,
/// or one per step for [`Targets::StepClasses`] (each sample's `width`
/// predictions split into `steps` rows).
fn rows(targets: &Targets, width: usize) -> (usize, usize) {
    match targets {
        Targets::StepClasses { steps, labels } => (labels.len(), width / (*steps).max(1)),
        _ => (targets.len(), width),
    }
}

/// Fraction of samples whose predicted class is the target class.
///
/// Width 1 predictions are a binary classifier (`pred > 0.5` means class 1);
/// wider ones take the arg-max. Targets may be class labels, one-hot rows
/// (arg-max) or single 0/1 values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accuracy;

impl Metric for Accuracy {
    fn name(&self) -> String {
        "acc".into()
    }
    fn score(&self, pred: &[f32], width: usize, targets: &Targets) -> Result<(f64, usize)> {
        let (n, width) = rows(targets, width);
        check_rows("accuracy", pred, width, n)?;
        let mut hits = 0usize;
        for (i, row) in pred.chunks(width).enumerate() {
            let p = if width == 1 {
                (row[0] > 0.5) as usize
            } else {
                argmax(row)
            };
            hits += (p == target_class(targets, i)) as usize;
        }
        Ok((hits as f64, n))
    }
    fn format(&self, v: f64) -> String {
        format!("{:.1}%", v * 100.0)
    }
}

/// Fraction of samples whose target class is among the `k` largest predictions.
#[derive(Debug, Clone, Copy)]
pub struct TopKAccuracy(pub usize);

impl Metric for TopKAccuracy {
    fn name(&self) -> String {
        format!("top{}_acc", self.0)
    }
    fn score(&self, pred: &[f32], width: usize, targets: &Targets) -> Result<(f64, usize)> {
        let (n, width) = rows(targets, width);
        check_rows("top-k accuracy", pred, width, n)?;
        if self.0 == 0 {
            return Err(Error::config(
                "top-k accuracy k",
                self.0,
                "must be at least 1",
            ));
        }
        let mut hits = 0usize;
        for (i, row) in pred.chunks(width).enumerate() {
            let t = target_class(targets, i);
            if t >= width {
                continue;
            }
            // Rank of the target = number of strictly larger predictions.
            let larger = row.iter().filter(|v| **v > row[t]).count();
            hits += (larger < self.0) as usize;
        }
        Ok((hits as f64, n))
    }
    fn format(&self, v: f64) -> String {
        format!("{:.1}%", v * 100.0)
    }
}

/// Mean absolute error over all target values (regression).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mae;

impl Metric for Mae {
    fn name(&self) -> String {
        "mae".into()
    }
    fn score(&self, pred: &[f32], width: usize, targets: &Targets) -> Result<(f64, usize)> {
        let Targets::Values { width: tw, data } = targets else {
            return Err(Error::data("MAE targets", "value targets", "class labels"));
        };
        let n = targets.len();
        check_rows("mae", pred, width, n)?;
        if *tw != width {
            return Err(Error::Shape {
                what: "mae: target width vs prediction width".into(),
                expected: vec![width],
                got: vec![*tw],
            });
        }
        let sum: f64 = pred
            .chunks(width)
            .zip(data.chunks(width))
            .map(|(p, t)| {
                p.iter()
                    .zip(t)
                    .map(|(a, b)| (a - b).abs() as f64)
                    .sum::<f64>()
                    / width as f64
            })
            .sum();
        Ok((sum, n))
    }
    fn higher_is_better(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_classes_one_hot_and_binary() {
        let pred = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7];
        let (s, n) = Accuracy
            .score(&pred, 2, &Targets::Classes(vec![1, 0, 0]))
            .unwrap();
        assert_eq!((s, n), (2.0, 3));
        let oh = Targets::Values {
            width: 2,
            data: vec![0., 1., 1., 0., 0., 1.],
        };
        assert_eq!(Accuracy.score(&pred, 2, &oh).unwrap(), (3.0, 3));
        let bin = Targets::Values {
            width: 1,
            data: vec![1., 0.],
        };
        assert_eq!(Accuracy.score(&[0.7, 0.6], 1, &bin).unwrap(), (1.0, 2));
        assert!(Accuracy
            .score(&pred, 4, &Targets::Classes(vec![0, 0, 0]))
            .is_err());
    }

    #[test]
    fn top_k_and_mae() {
        let pred = [0.5, 0.3, 0.2, 0.1, 0.2, 0.7];
        let t = Targets::Classes(vec![2, 0]);
        assert_eq!(TopKAccuracy(1).score(&pred, 3, &t).unwrap(), (0.0, 2));
        assert_eq!(TopKAccuracy(2).score(&pred, 3, &t).unwrap(), (0.0, 2));
        assert_eq!(TopKAccuracy(3).score(&pred, 3, &t).unwrap(), (2.0, 2));
        let t = Targets::Classes(vec![1, 1]);
        assert_eq!(TopKAccuracy(2).score(&pred, 3, &t).unwrap(), (2.0, 2));
        let v = Targets::Values {
            width: 2,
            data: vec![1.0, 1.0, 0.0, 0.0],
        };
        let (s, n) = Mae.score(&[0.0, 1.0, 0.5, 0.5], 2, &v).unwrap();
        assert_eq!((s, n), (1.0, 2));
        assert!(Mae.score(&[0.0], 1, &Targets::Classes(vec![0])).is_err());
    }
}
