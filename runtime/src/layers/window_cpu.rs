//! CPU kernels for [`super::window`]: the same maths as the generic dfdx
//! composition, as plain loops with a hand-written backward recorded through
//! dfdx's public tape API (`Tape::add_backward_op`,
//! `Gradients::get_or_alloc_mut`).
//!
//! Chosen at run time when the device is `Cpu` and the element type `f32` or
//! `f64` ([`applies`]); the concrete types are recovered with `Any`
//! downcasts, which cannot fail once `applies` said yes.
//!
//! Max pooling follows PyTorch: the gradient goes to the first maximum of a
//! window, and a NaN in a window wins. (The generic path gives every tied
//! maximum the full gradient, like dfdx's `max`.)

use std::any::{Any, TypeId};

use dfdx::prelude::*;

use super::window::WindowPlan;
use crate::elem::Elem;

/// Whether the CPU kernels handle element type `E` on device `D`.
pub fn applies<E: 'static, D: 'static>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>()
        && (TypeId::of::<E>() == TypeId::of::<f32>() || TypeId::of::<E>() == TypeId::of::<f64>())
}

fn cast<A: 'static, B: 'static>(a: A) -> B {
    match (Box::new(a) as Box<dyn Any>).downcast::<B>() {
        Ok(b) => *b,
        Err(_) => unreachable!("window_cpu: type checked by `applies`"),
    }
}

fn cast_ref<A: 'static, B: 'static>(a: &A) -> &B {
    (a as &dyn Any)
        .downcast_ref::<B>()
        .expect("window_cpu: type checked by `applies`")
}

fn cast_mut<A: 'static, B: 'static>(a: &mut A) -> &mut B {
    (a as &mut dyn Any)
        .downcast_mut::<B>()
        .expect("window_cpu: type checked by `applies`")
}

/// CPU `window_max`; only call when [`applies`]`::<E, D>()`.
pub(crate) fn max<S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    if TypeId::of::<E>() == TypeId::of::<f32>() {
        max_typed::<f32, S, S2, E, D, T>(x, plan, out_shape)
    } else {
        max_typed::<f64, S, S2, E, D, T>(x, plan, out_shape)
    }
}

/// CPU `window_sum`; only call when [`applies`]`::<E, D>()`.
pub(crate) fn sum<S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    if TypeId::of::<E>() == TypeId::of::<f32>() {
        sum_typed::<f32, S, S2, E, D, T>(x, plan, out_shape)
    } else {
        sum_typed::<f64, S, S2, E, D, T>(x, plan, out_shape)
    }
}

/// The input as a contiguous `Vec<F>` (row-major).
fn read_input<F: Elem, S: Shape, E: Elem, D: Device<E>>(inp: &Tensor<S, E, D>) -> Vec<F> {
    let t: &Tensor<S, F, Cpu> = cast_ref(inp);
    let mut v = vec![F::zero(); t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

/// Wraps `data` as a `Tensor<S2, E, D>` on the input's CPU device.
fn make_output<F: Elem, S: Shape, S2: Shape, E: Elem, D: Device<E>>(
    inp: &Tensor<S, E, D>,
    data: Vec<F>,
    out_shape: S2,
) -> Result<Tensor<S2, E, D>, D::Err> {
    let t: &Tensor<S, F, Cpu> = cast_ref(inp);
    let out: Tensor<S2, F, Cpu> = t
        .device()
        .try_tensor_from_vec(data, out_shape)
        .map_err(cast::<CpuError, D::Err>)?;
    Ok(cast(out))
}

/// The gradient buffer of tensor (or ghost) `$t` in `$grads` as `&mut [F]`
/// (a macro because dfdx's `Tensorlike` bound cannot be named outside dfdx).
macro_rules! grad_slice {
    ($F:ty, $grads:expr, $t:expr) => {{
        let buf = $grads.get_or_alloc_mut($t)?;
        let buf: &mut <Cpu as Storage<$F>>::Vec = cast_mut(buf);
        &mut buf[..]
    }};
}

fn max_typed<F: Elem, S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    // Contiguous, so the gradient buffer is laid out like the data we read.
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let xs: Vec<F> = read_input(&inp);
    let (m, p, taps, fill) = (plan.in_plane(), plan.out_plane(), plan.taps, plan.fill());
    let mut out = Vec::with_capacity(n * p);
    let track = T::OWNS_TAPE;
    // Absolute input index of each output's maximum (`usize::MAX`: padding).
    let mut arg = Vec::with_capacity(if track { n * p } else { 0 });
    for plane in 0..n {
        let xp = &xs[plane * m..(plane + 1) * m];
        for win in plan.index.chunks_exact(taps) {
            let mut best = F::neg_infinity();
            let mut best_i = usize::MAX;
            for &i in win {
                if i == fill {
                    continue;
                }
                let v = xp[i];
                if best_i == usize::MAX {
                    best_i = i;
                }
                if v > best || v.is_nan() {
                    best = v;
                    best_i = i;
                }
            }
            out.push(best);
            if track {
                arg.push(if best_i == usize::MAX {
                    usize::MAX
                } else {
                    plane * m + best_i
                });
            }
        }
    }
    let out = make_output::<F, _, _, E, D>(&inp, out, out_shape)?;
    if track {
        let out_ghost = out.ghost();
        let inp_ghost = inp.ghost();
        tape.add_backward_op(move |grads: &mut Gradients<E, D>| {
            let go: Vec<F> = grad_slice!(F, grads, &out_ghost).to_vec();
            let gi: &mut [F] = grad_slice!(F, grads, &inp_ghost);
            for (g, &a) in go.iter().zip(&arg) {
                if a != usize::MAX {
                    gi[a] += *g;
                }
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

fn sum_typed<F: Elem, S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let xs: Vec<F> = read_input(&inp);
    let (m, p, taps, fill) = (plan.in_plane(), plan.out_plane(), plan.taps, plan.fill());
    let weights: Option<Vec<F>> = plan
        .weights
        .as_ref()
        .map(|w| w.iter().map(|&v| F::from_f64(v).unwrap()).collect());
    let mut out = Vec::with_capacity(n * p);
    for plane in 0..n {
        let xp = &xs[plane * m..(plane + 1) * m];
        for (o, win) in plan.index.chunks_exact(taps).enumerate() {
            let mut acc = F::zero();
            for (t, &i) in win.iter().enumerate() {
                if i != fill {
                    acc += match &weights {
                        Some(w) => w[o * taps + t] * xp[i],
                        None => xp[i],
                    };
                }
            }
            out.push(acc);
        }
    }
    drop(xs);
    let out = make_output::<F, _, _, E, D>(&inp, out, out_shape)?;
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        let inp_ghost = inp.ghost();
        let index = plan.index.clone();
        tape.add_backward_op(move |grads: &mut Gradients<E, D>| {
            let go: Vec<F> = grad_slice!(F, grads, &out_ghost).to_vec();
            let gi: &mut [F] = grad_slice!(F, grads, &inp_ghost);
            for plane in 0..n {
                let gp = &mut gi[plane * m..(plane + 1) * m];
                let gop = &go[plane * p..(plane + 1) * p];
                for (o, win) in index.chunks_exact(taps).enumerate() {
                    let g = gop[o];
                    for (t, &i) in win.iter().enumerate() {
                        if i != fill {
                            gp[i] += match &weights {
                                Some(w) => w[o * taps + t] * g,
                                None => g,
                            };
                        }
                    }
                }
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
