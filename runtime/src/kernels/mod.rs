//! Hand-written CPU kernels that sit beside the device-generic layer code.
//!
//! Each kernel is chosen at run time only for `Cpu` with `f32`/`f64` and is
//! tested against the generic path it replaces (values and gradients). Its
//! backward pass is registered through dfdx's public tape API
//! (`Tape::add_backward_op`, `Gradients::get_or_alloc_mut`).

pub mod conv_cpu;
pub mod host_alloc;
pub mod scratch;
