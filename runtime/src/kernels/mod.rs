//! Hand-written CPU kernels that `Cpu`'s [`Backend`](crate::backend::Backend)
//! impl chooses instead of the device-generic layer code.
//!
//! Each kernel is tested against the generic path it replaces (values and
//! gradients). Its backward pass is registered through dfdx's public tape API
//! (`Tape::add_backward_op`, `Gradients::get_or_alloc_mut`). Crate-private:
//! users reach them only through the layers.

pub(crate) mod act_cpu;
pub(crate) mod batchnorm_cpu;
pub(crate) mod conv_cpu;
pub(crate) mod dense_cpu;
pub(crate) mod gemm_cpu;
pub(crate) mod grad_norm_cpu;
pub(crate) mod param_cache;
pub(crate) mod recurrent_cpu;
pub(crate) mod scratch;
pub(crate) mod sgemm;
pub(crate) mod team;
pub(crate) mod window_cpu;
