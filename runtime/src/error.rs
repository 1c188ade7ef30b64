//! The runtime's error type: every run-time failure is a value naming the
//! thing that failed and the numbers involved, never a panic.

use std::path::PathBuf;

/// Errors from data loading, training, checkpoints and the device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file or in-memory dataset is malformed (wrong magic, wrong size, ...).
    #[error("data error: {0}")]
    Data(String),
    /// A checkpoint does not fit the model or is corrupt.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
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
    /// A configuration value is invalid (learning rate <= 0, batch size 0, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An error reported by the dfdx device (out of memory, CUDA, ...).
    #[error("device error: {0}")]
    Device(String),
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
