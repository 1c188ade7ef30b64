//! The training runtime: `fit` in the manner of Keras, evaluation and
//! prediction, metrics, callbacks, progress output, the training history
//! (CSV/JSON/plots) and checkpoints.
//!
//! * [`fit`](fit::fit): the training loop; [`FitConfig`] its settings.
//! * [`fit_outputs`](fit_outputs::fit_outputs): the same loop for a model
//!   with several typed outputs and an [`Objective`] over them.
//! * [`evaluate`](infer::evaluate), [`predict`](infer::predict),
//!   [`predict_one`](infer::predict_one), [`Predictor`]: inference, no tape.
//! * [`evaluate_terms`](eval_terms::evaluate_terms): the training loss term
//!   by term (data loss, penalties) over a dataset, nothing updated.
//! * [`metrics`]: the [`Metric`] trait, accuracy, top-k accuracy, MAE.
//! * [`callbacks`]: the [`Callback`] trait, early stopping, best-model
//!   checkpoints, CSV/JSON loggers, learning-rate schedules.
//! * [`history`]: per-epoch [`EpochLogs`] and the [`History`] of a run.
//! * [`plot`]: loss/accuracy curves and generic series as PNG or SVG.
//! * [`images`]: grids of grey images (digits) as PNG.
//! * [`checkpoint`]: safetensors save/load that checks every tensor first
//!   (checksums, model identity, finiteness); [`ModelFile`]'s `M::load(path,
//!   &dev)` / `model.save(path)` ([`model_file`]) is the application API;
//!   [`atomic_file`]: crash-safe writes;
//!   [`resume`]: training checkpoints (weights + epoch + history + optimizer state).
//! * [`grad_norms`]: per-parameter gradient L2 norms.
//! * [`progress`]: the progress bar / per-epoch line.
//! * `terms`: a loss made of named terms (data loss + penalties), logged each.
//! * [`forward`]: the traits `fit` needs from a model and tensor helpers.

pub mod atomic_file;
pub mod callbacks;
pub mod checkpoint;
pub mod config;
pub mod eval_terms;
pub mod fit;
pub mod fit_outputs;
pub mod forward;
pub mod grad_norms;
pub mod history;
pub mod images;
pub mod infer;
pub mod metrics;
pub mod model_file;
pub mod plot;
pub mod progress;
pub mod resume;
mod terms;

pub use callbacks::{
    Callback, Control, CsvLogger, EarlyStopping, JsonLogger, LrSchedule, LrScheduler, Mode,
    ModelCheckpoint,
};
pub use checkpoint::LoadOptions;
pub use config::{FitConfig, Validation, Verbosity};
pub use eval_terms::{evaluate_terms, TermEvaluation};
pub use fit::{fit, train_step, StepBatch, StepOutput};
pub use fit_outputs::{fit_outputs, train_outputs_step, Objective};
pub use history::{EpochLogs, History};
pub use images::{image_grid, image_grid_size, image_tiles};
pub use infer::{
    evaluate, evaluate_with, predict, predict_dataset, predict_one, probabilities, Evaluation,
    Predictor,
};
pub use metrics::{Accuracy, Mae, Metric, TopKAccuracy};
pub use model_file::ModelFile;
pub use plot::{plot_history, plot_series};
pub use resume::{load_training, restore_training, save_training, TrainState};
