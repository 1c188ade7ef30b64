//! Training checkpoints: the model's weights plus where training stood (the
//! number of epochs done, the learning rate and the history so far), in one
//! safetensors file, so `fit` can continue with `initial_epoch`.
//!
//! Seam for optimizer state: the optimizers do not expose their state (Adam's
//! moments, momentum buffers) yet. When they do, store those tensors under
//! keys starting with [`checkpoint::RESERVED_PREFIX`]`optimizer.` in
//! [`save_training`] and restore them in [`load_training`]; model loads
//! already ignore that prefix. Until then a resumed run is bit-identical to
//! an uninterrupted one only for stateless optimizers (plain SGD).

use std::collections::HashMap;
use std::path::Path;

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;

use crate::elem::Elem;
use crate::error::{Error, Result};
use crate::train::checkpoint;
use crate::train::history::History;

const EPOCH_KEY: &str = "sxima.epoch";
const LR_KEY: &str = "sxima.learning_rate";
const HISTORY_KEY: &str = "sxima.history";

/// Where a training run stood when it was checkpointed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// Epochs completed; pass as `FitConfig::initial_epoch` to continue.
    pub epoch: usize,
    /// The optimizer's learning rate at that point.
    pub learning_rate: f64,
    /// The history so far.
    pub history: History,
}

/// Saves weights and `state` to `path` (safetensors, atomically).
pub fn save_training<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    state: &TrainState,
    path: impl AsRef<Path>,
) -> Result<()> {
    let mut meta = HashMap::new();
    meta.insert(EPOCH_KEY.to_string(), state.epoch.to_string());
    // `{:?}` of an f64 round-trips exactly.
    meta.insert(LR_KEY.to_string(), format!("{:?}", state.learning_rate));
    meta.insert(HISTORY_KEY.to_string(), state.history.to_json_string());
    checkpoint::save_with_metadata(model, path, meta)
}

/// Loads weights into `model` and returns the saved [`TrainState`]. The
/// model is unchanged when anything is wrong with the file.
pub fn load_training<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<TrainState> {
    let path = path.as_ref();
    let meta = checkpoint::read_metadata(path)?;
    let err = |m: String| Error::Checkpoint {
        path: path.to_path_buf(),
        message: m,
    };
    let get = |k: &str| {
        meta.get(k)
            .ok_or_else(|| err(format!("not a training checkpoint: metadata `{k}` missing")))
    };
    let epoch = get(EPOCH_KEY)?
        .parse::<usize>()
        .map_err(|e| err(format!("{EPOCH_KEY}: {e}")))?;
    let learning_rate = get(LR_KEY)?
        .parse::<f64>()
        .map_err(|e| err(format!("{LR_KEY}: {e}")))?;
    let history: History =
        serde_json::from_str(get(HISTORY_KEY)?).map_err(|e| err(format!("{HISTORY_KEY}: {e}")))?;
    checkpoint::load(model, path)?;
    Ok(TrainState {
        epoch,
        learning_rate,
        history,
    })
}
