//! [`Dataset`]: samples held in memory as one flat `Vec<f32>` of features with
//! a per-sample shape, and their [`Targets`].
//!
//! Constructors validate every size and return [`Error::DataFormat`] naming the
//! numbers, so a dataset that exists is always consistent.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::shape_len;

/// What each sample is trained towards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Targets {
    /// `width` values per sample (regression, one-hot, probabilities), flat,
    /// sample-major: sample `i` is `data[i * width..(i + 1) * width]`.
    Values { width: usize, data: Vec<f32> },
    /// One class index per sample.
    Classes(Vec<usize>),
    /// One class index per time step of each sample (a sequence model whose
    /// output is `[steps, classes]`, e.g. a language model): `labels` holds
    /// `steps` labels per sample, sample-major. The loss and accuracy run
    /// over every step.
    StepClasses { steps: usize, labels: Vec<usize> },
}

impl Targets {
    /// Number of samples these targets describe.
    pub fn len(&self) -> usize {
        match self {
            Targets::Values { width, data } => {
                if *width == 0 {
                    0
                } else {
                    data.len() / width
                }
            }
            Targets::Classes(labels) => labels.len(),
            Targets::StepClasses { steps, labels } => labels.len() / (*steps).max(1),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices`, in that order.
    pub fn gather(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Values { width, data } => {
                let mut out = Vec::with_capacity(indices.len() * width);
                for &i in indices {
                    out.extend_from_slice(&data[i * width..(i + 1) * width]);
                }
                Targets::Values {
                    width: *width,
                    data: out,
                }
            }
            Targets::Classes(labels) => {
                Targets::Classes(indices.iter().map(|&i| labels[i]).collect())
            }
            Targets::StepClasses { steps, labels } => Targets::StepClasses {
                steps: *steps,
                labels: indices
                    .iter()
                    .flat_map(|&i| labels[i * steps..(i + 1) * steps].iter().copied())
                    .collect(),
            },
        }
    }

    /// True when the targets are class labels, or values where every row is
    /// one-hot (one `1`, the rest `0`, width > 1): accuracy makes sense.
    pub fn is_categorical(&self) -> bool {
        match self {
            Targets::Classes(_) | Targets::StepClasses { .. } => true,
            Targets::Values { width, data } => {
                *width > 1
                    && !data.is_empty()
                    && data.chunks(*width).all(|row| {
                        row.iter().all(|v| *v == 0.0 || *v == 1.0)
                            && row.iter().filter(|v| **v == 1.0).count() == 1
                    })
            }
        }
    }
}

/// Samples and targets in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
    sample_shape: Vec<usize>,
    targets: Targets,
}

/// Errors with [`Error::NonFiniteData`] on the first NaN or infinite value of
/// `values` (samples of `per` values each); `input` names the data.
pub fn check_finite(input: &str, values: &[f32], per: usize) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => Err(Error::NonFiniteData {
            input: input.to_string(),
            sample: at / per.max(1),
            feature: at % per.max(1),
            value: values[at],
        }),
    }
}

/// `shape` without dimensions of size 1 (`[1, 28, 28]` -> `[28, 28]`).
fn squeezed(shape: &[usize]) -> Vec<usize> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

fn fmt_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

impl Dataset {
    /// A dataset of `targets.len()` samples, each of shape `sample_shape`.
    ///
    /// Errors when `features.len()` is not `samples * prod(sample_shape)`, a
    /// dimension is 0, or a values target's data does not divide into rows.
    pub fn new(features: Vec<f32>, sample_shape: &[usize], targets: Targets) -> Result<Self> {
        if sample_shape.contains(&0) {
            return Err(Error::data(
                "sample shape",
                "no zero dimension",
                fmt_shape(sample_shape),
            ));
        }
        if let Targets::Values { width, data } = &targets {
            if *width == 0 {
                return Err(Error::data("targets", "a width of at least 1", "width 0"));
            }
            if !data.len().is_multiple_of(*width) {
                return Err(Error::data(
                    "targets",
                    format!("a multiple of the width {width} values"),
                    format!("{} values", data.len()),
                ));
            }
        }
        if let Targets::StepClasses { steps, labels } = &targets {
            if *steps == 0 || !labels.len().is_multiple_of(*steps) {
                return Err(Error::data(
                    "step targets",
                    format!("{steps} labels per sample (steps at least 1)"),
                    format!("{} labels", labels.len()),
                ));
            }
        }
        let n = targets.len();
        let per = shape_len(sample_shape);
        let need = n.checked_mul(per).ok_or_else(|| {
            Error::data(
                "features",
                "a size that fits usize",
                format!("{n} samples of {} (overflow)", fmt_shape(sample_shape)),
            )
        })?;
        if features.len() != need {
            return Err(Error::data(
                "features",
                format!(
                    "{} values ({} samples of {})",
                    need,
                    n,
                    fmt_shape(sample_shape)
                ),
                format!("{} values", features.len()),
            ));
        }
        check_finite("features", &features, per)?;
        if let Targets::Values { width, data } = &targets {
            check_finite("targets", data, *width)?;
        }
        Ok(Self {
            features,
            sample_shape: sample_shape.to_vec(),
            targets,
        })
    }

    /// A classification dataset: one label per sample.
    pub fn with_classes(
        features: Vec<f32>,
        sample_shape: &[usize],
        labels: Vec<usize>,
    ) -> Result<Self> {
        Self::new(features, sample_shape, Targets::Classes(labels))
    }

    /// A dataset with `width` target values per sample.
    pub fn with_values(
        features: Vec<f32>,
        sample_shape: &[usize],
        width: usize,
        values: Vec<f32>,
    ) -> Result<Self> {
        Self::new(
            features,
            sample_shape,
            Targets::Values {
                width,
                data: values,
            },
        )
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when the dataset has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample (no batch dimension).
    pub fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }

    /// Number of feature values per sample.
    pub fn sample_len(&self) -> usize {
        shape_len(&self.sample_shape)
    }

    /// All features, sample-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// Mutable access to the features (normalisation); the length is fixed.
    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class labels, or `None` for value targets.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Classes(l) => Some(l),
            Targets::Values { .. } | Targets::StepClasses { .. } => None,
        }
    }

    /// The class label of sample `i`; `None` past the end or for value targets.
    pub fn label(&self, i: usize) -> Option<usize> {
        self.labels().and_then(|l| l.get(i).copied())
    }

    /// Errors with [`Error::NonFiniteData`] (naming sample and feature) on
    /// the first NaN or infinite feature or target value. Constructors run
    /// it; `fit` and `evaluate` run it again because [`features_mut`]
    /// and [`map_features`] can introduce such values later.
    ///
    /// [`features_mut`]: Self::features_mut
    /// [`map_features`]: Self::map_features
    pub fn check_finite(&self) -> Result<()> {
        check_finite("features", &self.features, self.sample_len())?;
        if let Targets::Values { width, data } = &self.targets {
            check_finite("targets", data, *width)?;
        }
        Ok(())
    }

    /// The features of sample `i`, or `None` past the end.
    pub fn sample(&self, i: usize) -> Option<&[f32]> {
        let per = self.sample_len();
        self.features.get(i * per..(i + 1) * per)
    }

    /// Number of values the model must output per sample for these targets:
    /// the width for values, `None` for class labels (any width works).
    pub fn target_width(&self) -> Option<usize> {
        match &self.targets {
            Targets::Values { width, .. } => Some(*width),
            Targets::Classes(_) | Targets::StepClasses { .. } => None,
        }
    }

    /// `max(label) + 1` for class targets.
    pub fn num_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes(l) | Targets::StepClasses { labels: l, .. } => {
                l.iter().max().map(|m| m + 1)
            }
            Targets::Values { .. } => None,
        }
    }

    /// The samples at `indices`, in that order. Errors on an index past the end.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        let n = self.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::data(
                "sample index",
                format!("an index below {n} samples"),
                format!("index {bad}"),
            ));
        }
        Ok(self.gather(indices))
    }

    /// The samples at `indices`, each below `len()` (checked by the callers).
    fn gather(&self, indices: &[usize]) -> Dataset {
        let per = self.sample_len();
        let mut features = Vec::with_capacity(indices.len() * per);
        for &i in indices {
            features.extend_from_slice(&self.features[i * per..(i + 1) * per]);
        }
        Dataset {
            features,
            sample_shape: self.sample_shape.clone(),
            targets: self.targets.gather(indices),
        }
    }

    /// The first `at` samples and the rest. Errors when `at > len`.
    pub fn split(&self, at: usize) -> Result<(Dataset, Dataset)> {
        let n = self.len();
        if at > n {
            return Err(Error::data(
                "split point",
                format!("a point in 1..{n} for {n} samples"),
                format!("{at}"),
            ));
        }
        let a: Vec<usize> = (0..at).collect();
        let b: Vec<usize> = (at..n).collect();
        Ok((self.gather(&a), self.gather(&b)))
    }

    /// The first `min(n, len)` samples.
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.gather(&idx)
    }

    /// Keras's `validation_split`: the last `fraction` of the samples (before
    /// any shuffling) become the validation set. `fraction` must be in (0, 1)
    /// and leave at least one sample on each side.
    pub fn validation_split(&self, fraction: f64) -> Result<(Dataset, Dataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::config(
                "validation split",
                fraction,
                "must be in (0, 1)",
            ));
        }
        let n = self.len();
        let at = ((n as f64) * (1.0 - fraction)).floor() as usize;
        if at == 0 || at == n {
            return Err(Error::config(
                "validation split",
                fraction,
                format!(
                    "of {n} samples it leaves {at} for training and {} for validation",
                    n - at
                ),
            ));
        }
        self.split(at)
    }

    /// Replaces class labels by one-hot rows of `classes` values.
    /// Errors on a label `>= classes` or when the targets are already values.
    pub fn to_one_hot(&self, classes: usize) -> Result<Dataset> {
        let Targets::Classes(labels) = &self.targets else {
            return Err(Error::data(
                "one-hot encoding targets",
                "class labels",
                "value targets",
            ));
        };
        let mut data = vec![0.0; labels.len() * classes];
        for (i, &l) in labels.iter().enumerate() {
            if l >= classes {
                return Err(Error::LabelOutOfRange {
                    index: i,
                    label: l,
                    classes,
                });
            }
            data[i * classes + l] = 1.0;
        }
        Ok(Dataset {
            features: self.features.clone(),
            sample_shape: self.sample_shape.clone(),
            targets: Targets::Values {
                width: classes,
                data,
            },
        })
    }

    /// Applies `f` to every feature value.
    pub fn map_features(&mut self, f: impl Fn(f32) -> f32) {
        self.features.iter_mut().for_each(|v| *v = f(*v));
    }

    /// Checks this dataset fits a model's per-sample input and output shapes.
    /// `model` names the model in the message.
    ///
    /// A `0` in `input` is a run-time dimension (`[seq, 28]`): it matches any
    /// size, and the samples must then have the model's rank and every fixed
    /// dimension (an error names the first one that differs).
    pub fn check_shapes(&self, model: &str, input: &[usize], output: &[usize]) -> Result<()> {
        if input.contains(&0) {
            self.check_run_time_shape(model, input)?;
            return self.check_targets(model, output);
        }
        // Equal element counts; and unless one side is flat (a `[784]`
        // dataset for a `[1, 28, 28]` model or the reverse), the same
        // dimensions up to size-1 axes: `[1, 14, 56]` images are not
        // `[1, 28, 28]` ones even with the same byte count.
        let (a, b) = (squeezed(&self.sample_shape), squeezed(input));
        let flat = a.len() <= 1 || b.len() <= 1;
        if shape_len(&self.sample_shape) != shape_len(input) || (!flat && a != b) {
            return Err(Error::Shape {
                what: format!(
                    "dataset samples of {} for model {model} input {}",
                    fmt_shape(&self.sample_shape),
                    fmt_shape(input)
                ),
                expected: input.to_vec(),
                got: self.sample_shape.clone(),
            });
        }
        self.check_targets(model, output)
    }

    /// A model with run-time dims: same rank, every fixed dim equal.
    fn check_run_time_shape(&self, model: &str, input: &[usize]) -> Result<()> {
        let shape = &self.sample_shape;
        let bad = if shape.len() != input.len() {
            Some(format!("{} dimensions, not {}", input.len(), shape.len()))
        } else {
            input
                .iter()
                .zip(shape)
                .position(|(&want, &got)| want != 0 && want != got)
                .map(|i| format!("dimension {} of size {}, not {}", i + 1, input[i], shape[i]))
        };
        match bad {
            None => Ok(()),
            Some(why) => Err(Error::Shape {
                what: format!(
                    "dataset samples of {} for model {model} input {} (0 = any size): it needs {why}",
                    fmt_shape(shape),
                    fmt_shape(input)
                ),
                expected: input.to_vec(),
                got: shape.clone(),
            }),
        }
    }

    /// The targets fit a model output of per-sample shape `output`.
    fn check_targets(&self, model: &str, output: &[usize]) -> Result<()> {
        let out = shape_len(output);
        match &self.targets {
            Targets::Values { width, .. } if *width != out => Err(Error::Shape {
                what: format!(
                    "targets of {width} values per sample for model {model} output {}",
                    fmt_shape(output)
                ),
                expected: vec![out],
                got: vec![*width],
            }),
            Targets::Classes(labels) => {
                // A single output is a binary classifier: labels 0/1.
                let classes = if out == 1 { 2 } else { out };
                match labels.iter().enumerate().find(|(_, &l)| l >= classes) {
                    Some((index, &label)) => Err(Error::LabelOutOfRange {
                        index,
                        label,
                        classes,
                    }),
                    None => Ok(()),
                }
            }
            Targets::StepClasses { steps, labels } => {
                // The output is [steps, classes].
                let classes = match output {
                    [t, c] if t == steps => *c,
                    _ => {
                        return Err(Error::Shape {
                            what: format!(
                                "targets of {steps} classes per sample (one per step) for model {model} output {}",
                                fmt_shape(output)
                            ),
                            expected: vec![*steps, out / (*steps).max(1)],
                            got: output.to_vec(),
                        })
                    }
                };
                match labels.iter().enumerate().find(|(_, &l)| l >= classes) {
                    Some((index, &label)) => Err(Error::LabelOutOfRange {
                        index,
                        label,
                        classes,
                    }),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_classes_count_samples_gather_by_sample_and_check_the_output() {
        let t = Targets::StepClasses {
            steps: 2,
            labels: vec![0, 1, 2, 3, 4, 0],
        };
        assert_eq!(t.len(), 3);
        assert!(t.is_categorical());
        assert_eq!(
            t.gather(&[2, 0]),
            Targets::StepClasses {
                steps: 2,
                labels: vec![4, 0, 0, 1],
            }
        );
        let d = Dataset::new(vec![0.0; 6], &[2], t).expect("3 samples");
        assert_eq!(d.num_classes(), Some(5));
        assert!(d.check_shapes("Lm", &[2], &[2, 5]).is_ok());
        assert!(matches!(
            d.check_shapes("Lm", &[2], &[2, 4]),
            Err(Error::LabelOutOfRange { label: 4, .. })
        ));
        assert!(d.check_shapes("Lm", &[2], &[3, 5]).is_err());
        let odd = Targets::StepClasses {
            steps: 4,
            labels: vec![0; 6],
        };
        assert!(Dataset::new(vec![0.0; 2], &[1], odd).is_err());
    }

    #[test]
    fn sizes_are_checked_with_numbers() {
        let e = Dataset::with_classes(vec![0.0; 7839], &[1, 28, 28], vec![0; 10]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "features: expected 7840 values (10 samples of [1, 28, 28]), found 7839 values"
        );
        let e = Dataset::with_values(vec![0.0; 4], &[2], 3, vec![0.0; 7]).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected a multiple of the width 3 values, found 7 values"),
            "{e}"
        );
    }

    #[test]
    fn one_hot_and_categorical() {
        let d = Dataset::with_classes(vec![0.0, 1.0, 2.0], &[1], vec![2, 0, 1]).unwrap();
        let h = d.to_one_hot(3).unwrap();
        assert_eq!(
            h.targets(),
            &Targets::Values {
                width: 3,
                data: vec![0., 0., 1., 1., 0., 0., 0., 1., 0.]
            }
        );
        assert!(h.targets().is_categorical());
        assert!(!Targets::Values {
            width: 1,
            data: vec![1.0]
        }
        .is_categorical());
        assert!(matches!(
            d.to_one_hot(2),
            Err(Error::LabelOutOfRange {
                index: 0,
                label: 2,
                classes: 2
            })
        ));
    }
}
