//! Training checkpoints: the model's weights plus where training stood (the
//! number of epochs done, the learning rate, the history so far and the
//! optimizer's state), in one safetensors file, so `fit` can continue with
//! `initial_epoch` and end bit-identical to an uninterrupted run.
//!
//! Layout of the file:
//! * the model's tensors under their parameter paths (as [`checkpoint::save`]);
//! * the optimizer's moment tensors (Adam's `exp_avg`, a momentum buffer ...)
//!   as rank-1 `f64` tensors under `__train__.optimizer.<path>/<slot>`
//!   ([`checkpoint::RESERVED_PREFIX`], so plain model loads ignore them;
//!   `f64` holds `f32` and `f64` values exactly);
//! * string metadata: `sxima.epoch`, `sxima.learning_rate`, `sxima.history`
//!   (JSON) and, when there is optimizer state, `sxima.optimizer`: the
//!   [`OptimizerState`] as JSON without its tensors (kind, learning rate,
//!   step counts, scalars).
//!
//! ```
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::optim::{Adam, AdamConfig, Optimizer};
//! use sxima_runtime::train::resume::{restore_training, save_training, TrainState};
//! use sxima_runtime::train::History;
//!
//! let dev = Cpu::default();
//! let mut w: Tensor<Rank1<2>, f32, Cpu> = dev.tensor([1.0, -2.0]);
//! let mut opt = Adam::new(AdamConfig::default()).unwrap();
//! let grads = w.leaky_trace().square().sum().backward();
//! opt.step(&mut w, &grads).unwrap();
//!
//! // After epoch 1 (in `fit`, pass the run's `History`):
//! let path = std::env::temp_dir().join("sxima-resume-doc.safetensors");
//! let state = TrainState::with_optimizer(1, opt.state(), History::default());
//! save_training(&w, &state, &path).unwrap();
//!
//! // Later, with a freshly built model and optimizer:
//! let mut w2: Tensor<Rank1<2>, f32, Cpu> = dev.zeros();
//! let mut opt2 = Adam::new(AdamConfig::default()).unwrap();
//! let state = restore_training(&mut w2, &mut opt2, &path).unwrap();
//! assert_eq!((state.epoch, w2.array()), (1, w.array()));
//! assert_eq!(opt2.state(), opt.state());
//! // then: fit(.., FitConfig::new().epochs(10).initial_epoch(state.epoch), ..)
//! ```

use std::collections::HashMap;
use std::path::Path;

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;
use safetensors::tensor::{Dtype as SDtype, SafeTensors};

use crate::elem::Elem;
use crate::error::{Error, Result};
use crate::optim::{Optimizer, OptimizerState};
use crate::train::checkpoint::{self, Entry, RESERVED_PREFIX};
use crate::train::history::History;

const EPOCH_KEY: &str = "sxima.epoch";
const LR_KEY: &str = "sxima.learning_rate";
const HISTORY_KEY: &str = "sxima.history";
const OPTIMIZER_KEY: &str = "sxima.optimizer";

/// Prefix of the optimizer's tensors in the file.
pub fn optimizer_tensor_prefix() -> String {
    format!("{RESERVED_PREFIX}optimizer.")
}

/// Where a training run stood when it was checkpointed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// Epochs completed; pass as `FitConfig::initial_epoch` to continue.
    pub epoch: usize,
    /// The optimizer's learning rate at that point.
    pub learning_rate: f64,
    /// The history so far.
    pub history: History,
    /// The optimizer's state ([`Optimizer::state`]); `None` saves weights
    /// only, which resumes exactly only for a stateless optimizer (plain SGD).
    pub optimizer: Option<OptimizerState>,
}

impl TrainState {
    /// The state after `epoch` epochs with the optimizer's `state` (whose
    /// learning rate becomes [`learning_rate`](Self::learning_rate)).
    pub fn with_optimizer(epoch: usize, state: OptimizerState, history: History) -> Self {
        Self {
            epoch,
            learning_rate: state.lr,
            history,
            optimizer: Some(state),
        }
    }
}

/// Saves weights and `state` (including the optimizer's) to `path`
/// (safetensors, atomically).
pub fn save_training<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    state: &TrainState,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let mut meta = HashMap::new();
    meta.insert(EPOCH_KEY.to_string(), state.epoch.to_string());
    // `{:?}` of an f64 round-trips exactly.
    meta.insert(LR_KEY.to_string(), format!("{:?}", state.learning_rate));
    meta.insert(HISTORY_KEY.to_string(), state.history.to_json_string());
    let mut entries = checkpoint::collect(model)?;
    if let Some(opt) = &state.optimizer {
        let prefix = optimizer_tensor_prefix();
        for (key, values) in &opt.tensors {
            entries.push((
                format!("{prefix}{key}"),
                Entry {
                    dtype: SDtype::F64,
                    shape: vec![values.len()],
                    data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                },
            ));
        }
        let header = OptimizerState {
            tensors: Default::default(),
            ..opt.clone()
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| Error::corrupt(path, format!("cannot encode optimizer state: {e}")))?;
        meta.insert(OPTIMIZER_KEY.to_string(), json);
    }
    let bytes = checkpoint::serialize(&entries, Some(meta), path)?;
    checkpoint::atomic_write(path, &bytes)
}

/// Reads the training metadata and optimizer tensors of a checkpoint file
/// (without touching any model).
fn parse_state(bytes: &[u8], path: &Path) -> Result<TrainState> {
    let err = |m: String| Error::corrupt(path, m);
    let invalid = |e: safetensors::SafeTensorError| checkpoint::not_safetensors(path, bytes, e);
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
    let meta = header.metadata().clone().unwrap_or_default();
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

    let prefix = optimizer_tensor_prefix();
    let file = SafeTensors::deserialize(bytes).map_err(invalid)?;
    let mut tensor_names: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .cloned()
        .collect();
    tensor_names.sort();
    let optimizer = match meta.get(OPTIMIZER_KEY) {
        None if tensor_names.is_empty() => None,
        None => {
            return Err(err(format!(
                "optimizer tensors without `{OPTIMIZER_KEY}` metadata"
            )))
        }
        Some(json) => {
            let mut state: OptimizerState =
                serde_json::from_str(json).map_err(|e| err(format!("{OPTIMIZER_KEY}: {e}")))?;
            for name in tensor_names {
                let view = file.tensor(&name).map_err(invalid)?;
                if view.dtype() != SDtype::F64 || view.shape().len() != 1 {
                    return Err(err(format!(
                        "{name}: optimizer tensors are rank-1 F64, file has {:?} {:?}",
                        view.dtype(),
                        view.shape()
                    )));
                }
                let values = view
                    .data()
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c); // `chunks_exact(8)`: always 8 bytes
                        f64::from_le_bytes(b)
                    })
                    .collect();
                state
                    .tensors
                    .insert(name[prefix.len()..].to_string(), values);
            }
            Some(state)
        }
    };
    Ok(TrainState {
        epoch,
        learning_rate,
        history,
        optimizer,
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads weights into `model` and returns the saved [`TrainState`]
/// (restore [`TrainState::optimizer`] yourself, or use
/// [`restore_training`]). The model is unchanged when anything is wrong
/// with the file.
pub fn load_training<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<TrainState> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let state = parse_state(&bytes, path)?;
    checkpoint::load_bytes(model, &bytes, path)?;
    Ok(state)
}

/// Loads weights into `model` and the optimizer state into `optimizer`
/// (which must be the same kind of optimizer that saved it), and returns the
/// [`TrainState`]: continue with `FitConfig::initial_epoch(state.epoch)`.
/// A checkpoint without optimizer state (saved with `optimizer: None`) only
/// sets the learning rate. On an error nothing is changed, except that a
/// device error while copying weights may leave the model partly loaded.
pub fn restore_training<E, D, M, O>(
    model: &mut M,
    optimizer: &mut O,
    path: impl AsRef<Path>,
) -> Result<TrainState>
where
    E: Elem,
    D: Device<E>,
    M: TensorCollection<E, D>,
    O: Optimizer<M, E, D>,
{
    let path = path.as_ref();
    let bytes = read(path)?;
    let state = parse_state(&bytes, path)?;
    checkpoint::check_bytes(model, &bytes, path)?;
    match &state.optimizer {
        Some(s) => optimizer
            .load_state(s)
            .map_err(|e| Error::corrupt(path, format!("optimizer state: {e}")))?,
        None => {
            if !(state.learning_rate.is_finite() && state.learning_rate > 0.0) {
                return Err(Error::corrupt(
                    path,
                    format!("learning rate {} is not > 0", state.learning_rate),
                ));
            }
            optimizer.set_learning_rate(state.learning_rate)?
        }
    }
    checkpoint::load_bytes(model, &bytes, path)?;
    Ok(state)
}
