//! [`DynModel`]: a `model!` type instantiated for one element type and
//! device, behind an object-safe interface with flat tensors; and
//! [`ZooEntry`], the non-generic constructors of one zoo architecture.
//!
//! Rust compiles a generic model where a crate first names it with concrete
//! types (release builds do not share those copies between crates). A
//! function such as `fn build_cpu(&Cpu) -> Box<dyn DynModel<f32, Cpu>>` in
//! the model's own crate pins that work there: callers get a vtable, not a
//! fresh copy of every layer's forward.

use std::path::Path;

use dfdx::prelude::{Cpu, Device, HasShape, ReshapeTo, Shape, Tensor};
use sxima_runtime::error::DeviceResultExt;
use sxima_runtime::model::{shape_len, Model};
use sxima_runtime::train::ModelFile;
use sxima_runtime::{Elem, Error, Result};

/// A model on device `D` with elements `E`, seen through flat tensors.
///
/// Blanket-implemented for every [`Model`]; use it through
/// `Box<dyn DynModel<E, D>>` where one program handles many model types and
/// should compile each only once (in the crate that boxes it).
pub trait DynModel<E: Elem, D: Device<E>> {
    /// The model's type name (`ModelInfo::NAME`).
    fn name(&self) -> &'static str;
    /// Shape of one sample, without the batch (`ModelInfo::INPUT_SHAPE`).
    fn sample_input_shape(&self) -> &'static [usize];
    /// Shape of one output, without the batch (`ModelInfo::OUTPUT_SHAPE`).
    fn sample_output_shape(&self) -> &'static [usize];
    /// Number of parameters (`ModelInfo::PARAM_COUNT`).
    fn param_count(&self) -> usize;
    /// Multiply-accumulates per sample (`ModelInfo::MACS`).
    fn macs(&self) -> u64;
    /// Inference forward of a batch given as its `B * len(sample_input_shape)`
    /// values, row-major `(B, ..sample_input_shape)`; returns the
    /// `B * len(sample_output_shape)` outputs, row-major `(B, ..sample_output_shape)`.
    ///
    /// Errors: a length that is not a whole number of samples (a data error
    /// naming both), or a device error.
    fn try_forward_flat(&self, x: Tensor<(usize,), E, D>) -> Result<Tensor<(usize,), E, D>>;
}

impl<E: Elem, D: Device<E>, M: Model<E, D>> DynModel<E, D> for M {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn sample_input_shape(&self) -> &'static [usize] {
        M::INPUT_SHAPE
    }
    fn sample_output_shape(&self) -> &'static [usize] {
        M::OUTPUT_SHAPE
    }
    fn param_count(&self) -> usize {
        M::PARAM_COUNT
    }
    fn macs(&self) -> u64 {
        M::MACS
    }
    fn try_forward_flat(&self, x: Tensor<(usize,), E, D>) -> Result<Tensor<(usize,), E, D>> {
        let per_sample = shape_len(M::INPUT_SHAPE);
        let len = x.shape().0;
        if per_sample == 0 || len == 0 || !len.is_multiple_of(per_sample) {
            return Err(Error::data(
                format!("{} input", M::NAME),
                format!(
                    "a positive multiple of {per_sample} values {:?}",
                    M::INPUT_SHAPE
                ),
                format!("{len} values"),
            ));
        }
        let x = x
            .try_reshape_like(&M::input_shape(len / per_sample))
            .dev()?;
        let y = self.try_forward(x)?;
        let n = y.shape().num_elements();
        y.try_reshape_like(&(n,)).dev()
    }
}

/// A boxed `f32` / [`Cpu`] model, or the error that prevented it.
pub type BoxedModel = Result<Box<dyn DynModel<f32, Cpu>>>;

/// One zoo architecture, compiled for `f32` on [`Cpu`] in its own crate:
/// its torchvision name and non-generic constructors.
#[derive(Clone, Copy, Debug)]
pub struct ZooEntry {
    /// torchvision's name (`"resnet50"`), also the file stem of
    /// `export_torchvision.py`'s files.
    pub name: &'static str,
    /// Builds the model with fresh parameters (seed the device for
    /// reproducible weights).
    pub build: fn(&Cpu) -> BoxedModel,
    /// Loads a torchvision state dict saved as safetensors, by name
    /// ([`ModelFile::load_state_dict`]).
    pub load_state_dict: fn(&Path, &Cpu) -> BoxedModel,
}

impl ZooEntry {
    /// The entry of model type `M`. Call it from `M`'s own crate (in a
    /// `static` or a non-generic function), so that `M` is compiled there.
    pub const fn of<M: Model<f32, Cpu> + 'static>(name: &'static str) -> Self {
        ZooEntry {
            name,
            build: build::<M>,
            load_state_dict: load_state_dict::<M>,
        }
    }
}

fn build<M: Model<f32, Cpu> + 'static>(dev: &Cpu) -> BoxedModel {
    Ok(Box::new(M::try_build(dev)?))
}

fn load_state_dict<M: Model<f32, Cpu> + 'static>(path: &Path, dev: &Cpu) -> BoxedModel {
    Ok(Box::new(M::load_state_dict(path, dev)?))
}
