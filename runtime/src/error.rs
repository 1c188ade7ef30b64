//! The runtime's error type: every run-time failure is a value naming the
//! thing that failed and the numbers involved, never a panic.
//!
//! Variants are typed so that callers can match on what failed (a bad
//! setting, a checkpoint that does not fit, a malformed data file, ...);
//! the enum is `#[non_exhaustive]` so that new kinds of failure can be added
//! without breaking those matches.

use std::fmt;
use std::path::PathBuf;

/// Errors from data loading, training, checkpoints and the device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file or in-memory dataset is malformed: `input` names the file
    /// (or the dataset / argument), `expected` what it should hold and
    /// `found` what it holds, both with their numbers.
    #[error("{input}: expected {expected}, found {found}")]
    DataFormat {
        input: String,
        expected: String,
        found: String,
    },
    /// A checkpoint's tensors do not fit the model (every problem found, in
    /// file order of the model's parameters, then extra tensors by name).
    #[error("checkpoint {}: {}", path.display(), join(mismatches))]
    CheckpointMismatch {
        path: PathBuf,
        mismatches: Vec<TensorMismatch>,
    },
    /// A checkpoint is not readable (not safetensors, truncated, metadata
    /// missing or malformed); `reason` says what is wrong.
    #[error("checkpoint {}: {reason}", path.display())]
    CorruptCheckpoint { path: PathBuf, reason: String },
    /// A checkpoint was written by another model: its metadata names the
    /// model, shapes and parameter count (`file`) and they differ from the
    /// model loading it (`model`), both as `Mlp (input [784], output [10],
    /// 50,890 params)`.
    #[error("checkpoint {}: this file holds a {file}, not a {model}", path.display())]
    WrongModel {
        path: PathBuf,
        file: String,
        model: String,
    },
    /// A tensor's bytes do not match the checksum stored with them (a flipped
    /// bit, a partial overwrite): `stored` and `computed` are FNV-1a 64 hex.
    #[error(
        "checkpoint {}: tensor {tensor} is corrupt (checksum {computed}, file says {stored})",
        path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        tensor: String,
        stored: String,
        computed: String,
    },
    /// A checkpoint's weight is NaN or infinite (rejected unless the loader
    /// opts in with `LoadOptions::allow_non_finite`); `index` is the flat
    /// position inside `tensor`.
    #[error(
        "checkpoint {}: {tensor}[{index}] is {value} (non-finite weights are rejected; \
         LoadOptions::allow_non_finite opts in)",
        path.display()
    )]
    NonFiniteWeight {
        path: PathBuf,
        tensor: String,
        index: usize,
        value: f64,
    },
    /// A NaN or infinite value in data: `input` names the data (`features`,
    /// `targets`, `predict input`), `sample` the 0-based sample and `feature`
    /// the 0-based value within it.
    #[error("{input}: sample {sample}, feature {feature} is {value} (NaN and infinity are not valid data)")]
    NonFiniteData {
        input: String,
        sample: usize,
        feature: usize,
        value: f32,
    },
    /// Data files were not found: `files` names them, `tried` lists every
    /// place looked in (an explicit path, `$SXIMA_DATA`, ...) and why each
    /// failed.
    #[error("{files} not found; looked in: {tried}")]
    DataNotFound { files: String, tried: String },
    /// A shape that only shows at run time does not match.
    #[error("shape mismatch in {what}: expected {expected:?}, got {got:?}")]
    Shape {
        what: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// The loss became NaN or infinite.
    #[error("non-finite loss ({value}) at epoch {epoch}, batch {batch}")]
    NonFiniteLoss {
        epoch: usize,
        batch: usize,
        value: f64,
    },
    /// A named term of the training loss became NaN or infinite: a penalty
    /// the model declares (`term` as logged, e.g. `code.sparsity_kl`) or a
    /// term of a multi-output objective. The data loss and the total keep
    /// [`NonFiniteLoss`](Error::NonFiniteLoss).
    #[error("non-finite loss term {term} ({value}) at epoch {epoch}, batch {batch}")]
    NonFiniteTerm {
        term: String,
        epoch: usize,
        batch: usize,
        value: f64,
    },
    /// A gradient became NaN or infinite (the loss may still be finite, e.g.
    /// when a ReLU maps NaN activations to 0); `parameter` is its path.
    #[error("non-finite gradient of {parameter} at epoch {epoch}, batch {batch}")]
    NonFiniteGradient {
        epoch: usize,
        batch: usize,
        parameter: String,
    },
    /// A class label is not below the number of classes.
    #[error("label {label} at sample {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        index: usize,
        label: usize,
        classes: usize,
    },
    /// A setting is invalid: `setting` names it (`batch_size`, `lr`, ...),
    /// `value` is what was given and `reason` the rule it breaks.
    #[error("invalid {setting} = {value}: {reason}")]
    InvalidConfig {
        setting: String,
        value: String,
        reason: String,
    },
    /// An error reported by the dfdx device (out of memory, CUDA, ...).
    #[error("device error: {0}")]
    Device(String),
}

/// One way a checkpoint's tensor does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TensorMismatch {
    /// The tensor exists in both, with different shapes.
    Shape {
        tensor: String,
        file: Vec<usize>,
        model: Vec<usize>,
    },
    /// The tensor exists in both, with different element types.
    Dtype {
        tensor: String,
        file: String,
        model: String,
    },
    /// The model has the tensor, the file does not.
    Missing { tensor: String, model: Vec<usize> },
    /// The file has the tensor, the model does not.
    Extra { tensor: String, file: Vec<usize> },
}

impl TensorMismatch {
    /// The tensor's parameter path (`fc1.weight`).
    pub fn tensor(&self) -> &str {
        match self {
            Self::Shape { tensor, .. }
            | Self::Dtype { tensor, .. }
            | Self::Missing { tensor, .. }
            | Self::Extra { tensor, .. } => tensor,
        }
    }
}

impl fmt::Display for TensorMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape {
                tensor,
                file,
                model,
            } => write!(f, "{tensor}: file has {file:?}, model needs {model:?}"),
            Self::Dtype {
                tensor,
                file,
                model,
            } => write!(f, "{tensor}: file has dtype {file}, model needs {model}"),
            Self::Missing { tensor, model } => {
                write!(f, "{tensor}: missing from file, model needs {model:?}")
            }
            Self::Extra { tensor, file } => {
                write!(f, "{tensor}: in file ({file:?}) but not in the model")
            }
        }
    }
}

fn join(ms: &[TensorMismatch]) -> String {
    ms.iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// [`Error::InvalidConfig`] for `setting = value`, breaking `reason`.
    pub fn config(
        setting: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidConfig {
            setting: setting.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// [`Error::DataFormat`]: `input` expected `expected`, found `found`.
    pub fn data(
        input: impl fmt::Display,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self::DataFormat {
            input: input.to_string(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// [`Error::CorruptCheckpoint`] for the file at `path`.
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::CorruptCheckpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a dfdx device error (`D::Err`) into [`Error::Device`].
pub trait DeviceResultExt<T> {
    fn dev(self) -> Result<T>;
}

impl<T, Err: core::fmt::Debug> DeviceResultExt<T> for std::result::Result<T, Err> {
    fn dev(self) -> Result<T> {
        self.map_err(|e| Error::Device(format!("{e:?}")))
    }
}
