//! [`Backend`]: the device bound that every sxima layer and generated model
//! writes, so that a device can bring its own kernels for an op while every
//! other device runs the device-generic composition of dfdx ops.

use dfdx::tensor_ops::Device;

use crate::elem::Elem;

/// A dfdx device that sxima's layers run on (`Cpu`, and `Cuda` with the
/// `cuda` feature).
pub trait Backend<E: Elem>: Device<E> {}

impl<E: Elem, D: Device<E>> Backend<E> for D {}
