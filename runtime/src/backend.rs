//! [`Backend`]: the device bound every sxima layer, optimizer and generated
//! model writes, and the trait through which a device chooses its kernels,
//! as dfdx chooses its own per device.
//!
//! Each method has the device-generic composition of dfdx ops as its default
//! (so `Cuda`, and any device added later, runs with no code of its own);
//! `Cpu` overrides them with the hand-written kernels in `crate::kernels`.
//! Callers never ask which device they run on: they call `D::conv_forward`,
//! `D::window_max`, ... and get that device's kernel.

use dfdx::prelude::*;

use crate::elem::{to_f64, Elem};
use crate::kernels::{
    batchnorm_cpu, conv_cpu, dense_cpu, embedding_cpu, grad_norm_cpu, input_grad, loss_cpu,
    param_cache, recurrent_cpu, window_cpu,
};
use crate::layers::batchnorm_generic::{batch_norm_infer_generic, batch_norm_train_generic};
use crate::layers::conv_generic::{conv_forward_generic, Dyn4};
use crate::layers::conv_geom::ConvGeom;
use crate::layers::dense_generic::{dense_forward_generic, Rows};
use crate::layers::embedding::Embedded;
use crate::layers::recurrent::{CellKind, CellParams, InitialState, RecurrentOutput};
use crate::layers::recurrent_generic::recurrent_run_generic;
use crate::layers::window_generic::{window_max_generic, window_sum_generic, WindowPlan};
use crate::loss::sparse_cross_entropy_generic;

/// A dfdx device that sxima runs on (`Cpu`, and `Cuda` with the `cuda`
/// feature), with its choice of kernel for each op sxima implements itself.
///
/// Every method's default is the device-generic path; a device overrides the
/// ones it has a faster kernel for, and tests compare each override against
/// the default (values and gradients).
pub trait Backend<E: Elem>: Device<E> {
    /// Whether optimizers update parameters with one fused loop over host
    /// copies ([`UpdateRule::update_host`](crate::optim::UpdateRule)) rather
    /// than with tensor ops on the device. `true` only where the tensors live
    /// in host memory (`Cpu`): there the copies are cheap and one loop beats a
    /// dozen element-wise ops.
    const HOST_OPTIMIZER: bool = false;

    /// Marks `x`, a training batch's input, as needing no gradient until the
    /// returned guard is dropped (a PyTorch input without `requires_grad`):
    /// kernels may then skip the gradient of their input when it is `x` (or
    /// a view of it), which nobody reads. The default marks nothing.
    fn gradient_free_input<S: Shape>(_x: &Tensor<S, E, Self>) -> Box<dyn std::any::Any> {
        Box::new(())
    }

    /// Sparse categorical cross-entropy of `logits [N, C]` against one class
    /// per row: `mean(logsumexp(row) - row[label])` (PyTorch's
    /// `cross_entropy` with class indices). The caller has checked that
    /// there is one label per row and each is below `C`.
    fn sparse_cross_entropy<T: Tape<E, Self>>(
        logits: Tensor<(usize, usize), E, Self, T>,
        labels: &[usize],
    ) -> Result<Tensor<Rank0, E, Self, T>, Self::Err> {
        sparse_cross_entropy_generic(logits, labels)
    }

    /// Convolution at run-time sizes: `x [batch * c_in * h_in * w_in]`
    /// (flattened), `w [c_out, c_in / groups * kh * kw]`, `bias [c_out]` →
    /// `[batch, c_out, h_out, w_out]`; see
    /// [`conv_forward`](crate::layers::im2col::conv_forward).
    fn conv_forward<T: Tape<E, Self>>(
        x: Tensor<(usize,), E, Self, T>,
        w: Tensor<(usize, usize), E, Self, T>,
        bias: Option<Tensor<(usize,), E, Self, T>>,
        geom: &ConvGeom,
    ) -> Result<Tensor<Dyn4, E, Self, T>, Self::Err> {
        conv_forward_generic(x, w, bias, geom)
    }

    /// The dense product `x [rows, I]`, `w [O, I]`, optional `bias [O]` →
    /// `x w^T (+ bias)`, `[rows, O]` (the layers [`Dense`](crate::layers::Dense)
    /// and [`DenseNoBias`](crate::layers::DenseNoBias) view their inputs as
    /// rows). The sizes must agree, as the layers' types guarantee.
    fn dense_forward<T: Tape<E, Self>>(
        x: Rows<E, Self, T>,
        w: Rows<E, Self, T>,
        bias: Option<Tensor<(usize,), E, Self, T>>,
    ) -> Result<Rows<E, Self, T>, Self::Err> {
        dense_forward_generic(x, w, bias)
    }

    /// Window maximum over the last two axes (pooling); see
    /// [`window_max`](crate::layers::window::window_max).
    fn window_max<S: Shape, S2: Shape, T: Tape<E, Self>>(
        x: Tensor<S, E, Self, T>,
        plan: &WindowPlan,
        out_shape: S2,
    ) -> Result<Tensor<S2, E, Self, T>, Self::Err> {
        window_max_generic(x, plan, out_shape)
    }

    /// Weighted window sum over the last two axes (average pooling, padding,
    /// upsampling); see [`window_sum`](crate::layers::window::window_sum).
    fn window_sum<S: Shape, S2: Shape, T: Tape<E, Self>>(
        x: Tensor<S, E, Self, T>,
        plan: &WindowPlan,
        out_shape: S2,
    ) -> Result<Tensor<S2, E, Self, T>, Self::Err> {
        window_sum_generic(x, plan, out_shape)
    }

    /// The embedding lookup `y [B, S, M]`, `y[b, s]` = row `ids[b, s]` of
    /// `weight [V, M]` (the weight's gradient adds up the rows of repeated
    /// ids). Panics if an id is `>= V` (as dfdx's `gather`: check untrusted
    /// ids with [`check_tokens`](crate::layers::check_tokens)).
    fn embedding_forward<const V: usize, const M: usize, B: Dim, S: Dim, T: Tape<E, Self>>(
        weight: Tensor<Rank2<V, M>, E, Self, T>,
        ids: Tensor<(B, S), usize, Self>,
    ) -> Result<Embedded<B, S, M, E, Self, T>, Self::Err> {
        weight.try_gather(ids)
    }

    /// The recurrence of a recurrent layer with cell `K`: `x [B, T, I]`
    /// (input dropout already applied), optional initial state, forwards or
    /// (`reverse`) backwards in time; see
    /// [`Recurrent::try_run`](crate::layers::Recurrent::try_run) and
    /// [`RecurrentOutput`] (outputs `[B, T, H]`, `h_n`/`c_n` `[B, H]`).
    fn recurrent_run<B: Dim, T: Dim, const I: usize, const H: usize, K, Tp>(
        p: CellParams<'_, I, H, K, E, Self>,
        x: Tensor<(B, T, Const<I>), E, Self, Tp>,
        state: Option<InitialState<B, H, E, Self, Tp>>,
        reverse: bool,
    ) -> Result<RecurrentOutput<B, T, H, E, Self, Tp>, Self::Err>
    where
        K: CellKind,
        Tp: Tape<E, Self>,
    {
        recurrent_run_generic(p, x, state, reverse)
    }

    /// Runs `f(parameter, gradient)` on host slices of `p` and of its
    /// gradient in `grads` (allocated when missing), then writes the
    /// parameter back in place (it keeps its id); `f` may change both.
    /// Returns `false`, having done nothing, on a device whose tensors do not
    /// live in host memory (the default); `Cpu` hands `f` the gradient buffer
    /// itself and a pooled copy of the parameter.
    fn host_update<S: Shape>(
        _grads: &mut Gradients<E, Self>,
        _p: &mut Tensor<S, E, Self>,
        _f: &mut dyn FnMut(&mut [E], &mut [E]),
    ) -> Result<bool, Self::Err> {
        Ok(false)
    }

    /// The squared L2 norm of `t`'s gradient in `grads` (a zero gradient is
    /// allocated first when the tape never reached `t`), as `f64`.
    fn grad_sq_norm<S: Shape>(
        grads: &mut Gradients<E, Self>,
        t: &Tensor<S, E, Self>,
    ) -> Result<f64, Self::Err> {
        grads.try_alloc_for(t)?;
        let sq: Tensor<Rank0, E, Self> = grads.get(t).try_square()?.try_sum()?;
        Ok(to_f64(sq.as_vec()[0]))
    }

    // --- batch norm (layers::batchnorm) ---

    /// Batch norm, training: `x [N, C, ..]` (channels on axis 1, statistics
    /// over `Ax`, every other axis) normalised with the batch mean and biased
    /// variance, times `scale [C]` plus `bias [C]`; updates `running_mean`
    /// and `running_var` (unbiased) with `momentum`. Gradients reach `x`,
    /// `scale` and `bias` when `x` carries a tape. See
    /// [`batchnorm`](crate::layers::batchnorm) for the conventions.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_train<const C: usize, S, Ax, T>(
        x: Tensor<S, E, Self, T>,
        scale: &Tensor<Rank1<C>, E, Self>,
        bias: &Tensor<Rank1<C>, E, Self>,
        running_mean: &mut Tensor<Rank1<C>, E, Self>,
        running_var: &mut Tensor<Rank1<C>, E, Self>,
        eps: f64,
        momentum: f64,
    ) -> Result<Tensor<S, E, Self, T>, Self::Err>
    where
        S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
        Ax: Axes,
        T: Tape<E, Self>,
    {
        batch_norm_train_generic(x, scale, bias, running_mean, running_var, eps, momentum)
    }

    /// Batch norm, inference: `(x - running_mean) * scale /
    /// sqrt(running_var + eps) + bias` per channel (axis 1 of `x [N, C, ..]`);
    /// gradients reach `x`, `scale` and `bias` when `x` carries a tape.
    fn batch_norm_infer<const C: usize, S, Ax, T>(
        x: Tensor<S, E, Self, T>,
        scale: &Tensor<Rank1<C>, E, Self>,
        bias: &Tensor<Rank1<C>, E, Self>,
        running_mean: &Tensor<Rank1<C>, E, Self>,
        running_var: &Tensor<Rank1<C>, E, Self>,
        eps: f64,
    ) -> Result<Tensor<S, E, Self, T>, Self::Err>
    where
        S: Shape,
        Rank1<C>: BroadcastShapeTo<S, Ax>,
        Ax: Axes,
        T: Tape<E, Self>,
    {
        batch_norm_infer_generic(x, scale, bias, running_mean, running_var, eps)
    }
}

/// `Cpu`: the hand-written kernels of `crate::kernels`.
macro_rules! cpu_backend {
    ($e:ty) => {
        impl Backend<$e> for Cpu {
            const HOST_OPTIMIZER: bool = true;

            fn gradient_free_input<S: Shape>(x: &Tensor<S, $e, Self>) -> Box<dyn std::any::Any> {
                Box::new(input_grad::mark(x))
            }

            fn sparse_cross_entropy<T: Tape<$e, Self>>(
                logits: Tensor<(usize, usize), $e, Self, T>,
                labels: &[usize],
            ) -> Result<Tensor<Rank0, $e, Self, T>, Self::Err> {
                loss_cpu::sparse_cross_entropy(logits, labels)
            }

            fn conv_forward<T: Tape<$e, Self>>(
                x: Tensor<(usize,), $e, Self, T>,
                w: Tensor<(usize, usize), $e, Self, T>,
                bias: Option<Tensor<(usize,), $e, Self, T>>,
                geom: &ConvGeom,
            ) -> Result<Tensor<Dyn4, $e, Self, T>, Self::Err> {
                conv_cpu::conv_forward_cpu(x, w, bias, geom)
            }

            fn dense_forward<T: Tape<$e, Self>>(
                x: Rows<$e, Self, T>,
                w: Rows<$e, Self, T>,
                bias: Option<Tensor<(usize,), $e, Self, T>>,
            ) -> Result<Rows<$e, Self, T>, Self::Err> {
                dense_cpu::dense_forward_cpu(x, w, bias)
            }

            fn embedding_forward<
                const V: usize,
                const M: usize,
                B: Dim,
                S: Dim,
                T: Tape<$e, Self>,
            >(
                weight: Tensor<Rank2<V, M>, $e, Self, T>,
                ids: Tensor<(B, S), usize, Self>,
            ) -> Result<Embedded<B, S, M, $e, Self, T>, Self::Err> {
                embedding_cpu::embedding_forward(weight, ids)
            }

            fn window_max<S: Shape, S2: Shape, T: Tape<$e, Self>>(
                x: Tensor<S, $e, Self, T>,
                plan: &WindowPlan,
                out_shape: S2,
            ) -> Result<Tensor<S2, $e, Self, T>, Self::Err> {
                window_cpu::max(x, plan, out_shape)
            }

            fn window_sum<S: Shape, S2: Shape, T: Tape<$e, Self>>(
                x: Tensor<S, $e, Self, T>,
                plan: &WindowPlan,
                out_shape: S2,
            ) -> Result<Tensor<S2, $e, Self, T>, Self::Err> {
                window_cpu::sum(x, plan, out_shape)
            }

            fn recurrent_run<B: Dim, T: Dim, const I: usize, const H: usize, K, Tp>(
                p: CellParams<'_, I, H, K, $e, Self>,
                x: Tensor<(B, T, Const<I>), $e, Self, Tp>,
                state: Option<InitialState<B, H, $e, Self, Tp>>,
                reverse: bool,
            ) -> Result<RecurrentOutput<B, T, H, $e, Self, Tp>, Self::Err>
            where
                K: CellKind,
                Tp: Tape<$e, Self>,
            {
                let (b, t, _) = *x.shape();
                if let Some(math) = recurrent_cpu::handles::<K, H>(b.size(), t.size()) {
                    recurrent_cpu::run(math, p, x, state, reverse)
                } else {
                    recurrent_run_generic(p, x, state, reverse)
                }
            }

            fn grad_sq_norm<S: Shape>(
                grads: &mut Gradients<$e, Self>,
                t: &Tensor<S, $e, Self>,
            ) -> Result<f64, Self::Err> {
                Ok(grad_norm_cpu::sq_norm(&grads.get_or_alloc_mut(t)?[..]))
            }

            fn host_update<S: Shape>(
                grads: &mut Gradients<$e, Self>,
                p: &mut Tensor<S, $e, Self>,
                f: &mut dyn FnMut(&mut [$e], &mut [$e]),
            ) -> Result<bool, Self::Err> {
                // The kept host copy when there is one (taken out first, so
                // the write below is in place), kept again after the write.
                let mut ph = param_cache::take(p).unwrap_or_else(|| {
                    let mut ph = vec![0.0; p.shape().num_elements()];
                    p.copy_into(&mut ph);
                    ph
                });
                f(&mut ph, &mut grads.get_or_alloc_mut(p)?[..]);
                p.copy_from(&ph);
                param_cache::put(p, ph);
                Ok(true)
            }

            // --- batch norm (kernels::batchnorm_cpu) ---

            fn batch_norm_train<const C: usize, S, Ax, T>(
                x: Tensor<S, $e, Self, T>,
                scale: &Tensor<Rank1<C>, $e, Self>,
                bias: &Tensor<Rank1<C>, $e, Self>,
                running_mean: &mut Tensor<Rank1<C>, $e, Self>,
                running_var: &mut Tensor<Rank1<C>, $e, Self>,
                eps: f64,
                momentum: f64,
            ) -> Result<Tensor<S, $e, Self, T>, Self::Err>
            where
                S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
                Ax: Axes,
                T: Tape<$e, Self>,
            {
                let stats = batchnorm_cpu::Running {
                    mean: running_mean,
                    var: running_var,
                    momentum,
                };
                batchnorm_cpu::train(x, scale, bias, stats, eps)
            }

            fn batch_norm_infer<const C: usize, S, Ax, T>(
                x: Tensor<S, $e, Self, T>,
                scale: &Tensor<Rank1<C>, $e, Self>,
                bias: &Tensor<Rank1<C>, $e, Self>,
                running_mean: &Tensor<Rank1<C>, $e, Self>,
                running_var: &Tensor<Rank1<C>, $e, Self>,
                eps: f64,
            ) -> Result<Tensor<S, $e, Self, T>, Self::Err>
            where
                S: Shape,
                Rank1<C>: BroadcastShapeTo<S, Ax>,
                Ax: Axes,
                T: Tape<$e, Self>,
            {
                batchnorm_cpu::infer(x, scale, bias, running_mean, running_var, eps)
            }
        }
    };
}

cpu_backend!(f32);
cpu_backend!(f64);

/// `Cuda`: every op on its device-generic default.
#[cfg(feature = "cuda")]
impl Backend<f32> for Cuda {}
#[cfg(feature = "cuda")]
impl Backend<f64> for Cuda {}
