//! What `fit`, `evaluate` and `predict` share: the helpers that move batches
//! between host buffers and device tensors, and two legacy aliases of the
//! [`Model`] bound (which now carries both forwards itself).

use dfdx::nn::{TensorCollection, TensorOptions, TensorVisitor, ViewTensorRef};
use dfdx::prelude::RecursiveWalker;
use dfdx::shapes::{HasShape, Rank0, Shape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, ReshapeTo};
use num_traits::NumCast;

use crate::backend::Backend;
use crate::data::Targets;
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::loss::{Loss, Target};
use crate::model::{shape_len, Model};

/// `f32` → `E` (exact for `f32`, widening for `f64`).
pub fn to_elem<E: Elem>(v: f32) -> E {
    <E as NumCast>::from(v).unwrap_or_else(E::nan)
}

/// `E` → `f64`.
pub fn to_f64<E: Elem>(v: E) -> f64 {
    num_traits::ToPrimitive::to_f64(&v).unwrap_or(f64::NAN)
}

/// The value of a scalar (loss) tensor on the host.
pub fn scalar<E: Elem, D: Device<E>, T>(t: &Tensor<Rank0, E, D, T>) -> f64 {
    t.as_vec().first().copied().map(to_f64).unwrap_or(f64::NAN)
}

/// `E` → `f32`.
pub fn to_f32<E: Elem>(v: E) -> f32 {
    num_traits::ToPrimitive::to_f32(&v).unwrap_or(f32::NAN)
}

struct FirstDevice<D>(Option<D>);

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for FirstDevice<D> {
    type Viewer = ViewTensorRef;
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        t: &Tensor<S, E, D>,
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        if self.0.is_none() {
            self.0 = Some(t.device().clone());
        }
        Ok(None)
    }
}

/// The device the model's parameters live on (a default device for a model
/// without parameters).
pub fn model_device<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(model: &M) -> D {
    let mut v = FirstDevice::<D>(None);
    // Visiting by reference allocates nothing, so it cannot fail.
    let _ = M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut v,
    });
    v.0.unwrap_or_default()
}

/// A batch of inputs for model `M` (no tape).
pub type InputTensor<M, E, D> = Tensor<<M as Model<E, D>>::Input<usize>, E, D>;

/// A batch of `b` samples of flat features as the model's input tensor (a
/// token model's ids are whole numbers among them; its forward checks them).
pub fn input_tensor<E: Elem, D: Device<E>, M: Model<E, D>>(
    dev: &D,
    features: &[f32],
    b: usize,
) -> Result<InputTensor<M, E, D>> {
    let x: Vec<E> = features.iter().map(|&v| to_elem(v)).collect();
    dev.try_tensor_from_vec(x, input_shape_of::<E, D, M>(features.len(), b)?)
        .dev()
}

/// The input shape of `b` samples holding `len` values in all. For a model
/// with a run-time dim (`[seq, 28]`, a 0 in `INPUT_SHAPE`) its size is the
/// values per sample over the fixed dims; errors when it does not divide, or
/// when more than one dim is a run-time one (flat data cannot say which).
pub fn input_shape_of<E: Elem, D: Device<E>, M: Model<E, D>>(
    len: usize,
    b: usize,
) -> Result<<M as Model<E, D>>::Input<usize>> {
    let shape = M::input_shape(b);
    let free: Vec<usize> = (0..M::INPUT_SHAPE.len())
        .filter(|&i| M::INPUT_SHAPE[i] == 0)
        .collect();
    let [axis] = free[..] else {
        if free.is_empty() {
            let need = b * shape_len(M::INPUT_SHAPE);
            if len != need {
                return Err(Error::data(
                    format_args!("a batch of {b} samples for model {}", M::NAME),
                    format!("{need} values ({b} x {:?})", M::INPUT_SHAPE),
                    format!("{len} values"),
                ));
            }
            return Ok(shape);
        }
        return Err(Error::config(
            "input shape",
            format!("{:?}", M::INPUT_SHAPE),
            "flat data fix the size of only one run-time dimension; build the tensor yourself",
        ));
    };
    let fixed: usize = M::INPUT_SHAPE.iter().filter(|&&d| d != 0).product();
    let per = b.max(1) * fixed.max(1);
    if b == 0 || !len.is_multiple_of(per) {
        return Err(Error::data(
            format_args!("a batch of {b} samples for model {}", M::NAME),
            format!(
                "a multiple of {per} values (dimension {} is any size)",
                axis + 1
            ),
            format!("{len} values"),
        ));
    }
    let mut dims = shape.concrete();
    dims[axis + 1] = len / per;
    <M as Model<E, D>>::Input::<usize>::from_concrete(&dims).ok_or_else(|| {
        Error::data(
            format_args!("model {} input", M::NAME),
            format!("{:?}", M::INPUT_SHAPE),
            format!("{:?}", dims),
        )
    })
}

/// The loss of a batch of predictions flattened to `(b, n)` against host
/// targets (uploaded to the device for value targets).
pub fn target_loss<E: Elem, D: Backend<E>, L: Loss<E, D>, T: Tape<E, D>>(
    loss: &L,
    dev: &D,
    pred: Tensor<(usize, usize), E, D, T>,
    targets: &Targets,
) -> Result<Tensor<Rank0, E, D, T>> {
    match targets {
        Targets::Values { width, data } => {
            let b = targets.len();
            let t: Vec<E> = data.iter().map(|&v| to_elem(v)).collect();
            let t = dev.try_tensor_from_vec(t, (b, *width)).dev()?;
            loss.try_loss(pred, &Target::Values(&t))
        }
        Targets::Classes(labels) => loss.try_loss(pred, &Target::Classes(labels)),
        Targets::StepClasses { steps, labels } => {
            // [b, steps * classes] -> [b * steps, classes]: every step a sample.
            let (b, n) = *pred.shape();
            let rows = b * steps;
            let pred = pred.try_reshape_like(&(rows, n / (*steps).max(1))).dev()?;
            loss.try_loss(pred, &Target::Classes(labels))
        }
    }
}
