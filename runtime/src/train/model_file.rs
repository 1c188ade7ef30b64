//! The application API for whole models: [`ModelFile`] (`model.save(path)`,
//! `M::load(path, &dev)`), [`save_model`], and the model identity recorded
//! in a checkpoint's metadata (name, input/output shape, parameter count),
//! so that loading another model's file is one line ([`Error::WrongModel`]).

use std::collections::HashMap;
use std::path::Path;

use dfdx::nn::TensorCollection;
use dfdx::tensor_ops::Device;
use safetensors::tensor::SafeTensors;

use crate::elem::Elem;
use crate::error::{Error, Result};
use crate::model::{thousands, Model, ModelInfo};
use crate::train::checkpoint::{
    load_bytes_with, not_safetensors, read, save_with_metadata, LoadOptions,
};

/// Metadata key: the model's type name (`ModelInfo::NAME`).
pub const MODEL_KEY: &str = "sxima.model";
/// Metadata key: the per-sample input shape, as `[1, 28, 28]`.
pub const INPUT_SHAPE_KEY: &str = "sxima.input_shape";
/// Metadata key: the per-sample output shape, as `[10]`.
pub const OUTPUT_SHAPE_KEY: &str = "sxima.output_shape";
/// Metadata key: the trainable parameter count, as decimal digits.
pub const PARAM_COUNT_KEY: &str = "sxima.param_count";

/// The model identity [`save_model`] records: name, shapes, parameter count.
fn identity<M: ModelInfo>() -> [(String, String); 4] {
    [
        (MODEL_KEY.into(), M::NAME.into()),
        (INPUT_SHAPE_KEY.into(), format!("{:?}", M::INPUT_SHAPE)),
        (OUTPUT_SHAPE_KEY.into(), format!("{:?}", M::OUTPUT_SHAPE)),
        (PARAM_COUNT_KEY.into(), M::PARAM_COUNT.to_string()),
    ]
}

/// `Mlp (input [784], output [10], 50,890 params)`.
fn describe(name: &str, input: &str, output: &str, params: &str) -> String {
    let params = params
        .parse::<usize>()
        .map(thousands)
        .unwrap_or_else(|_| params.to_string());
    format!("`{name}` (input {input}, output {output}, {params} params)")
}

/// Errors with [`Error::WrongModel`] when `meta` names another model (or
/// the same name with other shapes or parameter count). Files without a
/// model name (plain [`save`](crate::train::checkpoint::save), PyTorch) pass.
pub fn check_identity<M: ModelInfo>(meta: &HashMap<String, String>, path: &Path) -> Result<()> {
    let Some(name) = meta.get(MODEL_KEY) else {
        return Ok(());
    };
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("?");
    let ours = identity::<M>();
    let same = ours.iter().all(|(k, v)| get(k) == v);
    if same {
        return Ok(());
    }
    Err(Error::WrongModel {
        path: path.to_path_buf(),
        file: describe(
            name,
            get(INPUT_SHAPE_KEY),
            get(OUTPUT_SHAPE_KEY),
            get(PARAM_COUNT_KEY),
        ),
        model: describe(M::NAME, &ours[1].1, &ours[2].1, &M::PARAM_COUNT.to_string()),
    })
}

/// Saves a `model!` model to `path` as safetensors, atomically, with its
/// identity (name, input/output shape, parameter count) and checksums in the
/// metadata. [`ModelFile::save`] calls it.
pub fn save_model<E: Elem, D: Device<E>, M: TensorCollection<E, D> + ModelInfo>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    save_with_metadata(model, path, identity::<M>().into_iter().collect())
}

/// Builds a `model!` model on `device` from a checkpoint in memory: checks
/// the recorded identity ([`Error::WrongModel`]), then loads as
/// [`load_bytes_with`]. `path` only names the source in errors.
pub fn model_from_bytes<E: Elem, D: Device<E>, M: Model<E, D>>(
    bytes: &[u8],
    path: &Path,
    device: &D,
    options: &LoadOptions,
) -> Result<M> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    check_identity::<M>(&header.metadata().clone().unwrap_or_default(), path)?;
    let mut model = <M as dfdx::nn::BuildModule<D, E>>::try_build(device)
        .map_err(|e| Error::Device(format!("{e:?}")))?;
    load_bytes_with(&mut model, bytes, path, options)?;
    Ok(model)
}

/// Saving and loading a whole `model!` model: the application API.
///
/// ```no_run
/// # use sxima_runtime::{dfdx::prelude::*, Model, train::ModelFile};
/// # fn demo<M: Model<f32, Cpu>>(model: &M) -> sxima_runtime::Result<()> {
/// model.save("model.safetensors")?; // weights, checksums, identity
/// let dev = Cpu::default();
/// let back = M::load("model.safetensors", &dev)?; // the typed model
/// # Ok(()) }
/// ```
///
/// Implemented for every [`Model`]; the file records the model's name,
/// input/output shape and parameter count, so another model's file is one
/// line ([`Error::WrongModel`]).
pub trait ModelFile<E: Elem, D: Device<E>>: Sized {
    /// Saves the model atomically (see [`save_model`]).
    fn save(&self, path: impl AsRef<Path>) -> Result<()>;
    /// Builds the model on `device` with the weights in `path`: identity,
    /// checksums, tensor names/shapes/dtypes and finiteness are checked
    /// before any value is used.
    fn load(path: impl AsRef<Path>, device: &D) -> Result<Self> {
        Self::load_with(path, device, &LoadOptions::default())
    }
    /// [`ModelFile::load`] with explicit [`LoadOptions`].
    fn load_with(path: impl AsRef<Path>, device: &D, options: &LoadOptions) -> Result<Self>;
    /// Builds the model on `device` from a state dict another framework
    /// wrote, e.g. PyTorch's `safetensors.torch.save_file(model.state_dict(),
    /// path)` for a network whose fields are named as the PyTorch modules
    /// (torchvision's `layer1.0.conv1.weight`, a `Sequential`'s `0.weight`,
    /// written `0: Conv2d(..)` in `model!`).
    ///
    /// Every tensor is matched by name: its dtype (the model's element type,
    /// `f32` for `Model<f32, _>`) and shape are checked before any value is
    /// copied; a tensor the model needs and the file lacks, one the file
    /// holds and the model does not know, or one of another shape is
    /// [`Error::CheckpointMismatch`](crate::Error::CheckpointMismatch) naming
    /// it and both shapes (`fc.weight: file has [10, 84], model needs [10,
    /// 120]`). PyTorch's batch-norm counters (`num_batches_tracked`) are
    /// skipped; checksums and a model name are not required (when present
    /// they are checked as by [`ModelFile::load`]); NaN/inf weights are
    /// refused.
    fn load_state_dict(path: impl AsRef<Path>, device: &D) -> Result<Self> {
        Self::load_with(
            path,
            device,
            &LoadOptions::default().ignore_batch_counters(true),
        )
    }
}

impl<E: Elem, D: Device<E>, M: Model<E, D>> ModelFile<E, D> for M {
    fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_model(self, path)
    }
    fn load_with(path: impl AsRef<Path>, device: &D, options: &LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        model_from_bytes(&read(path)?, path, device, options)
    }
}
