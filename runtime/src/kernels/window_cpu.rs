//! CPU kernels for the window gather ([`crate::layers::window`]): the same
//! maths as the generic dfdx composition, as plain loops with a hand-written
//! backward recorded through dfdx's public tape API (`Tape::add_backward_op`,
//! `Gradients::get_or_alloc_mut`). `Cpu`'s choice in
//! [`Backend`](crate::backend::Backend) for `f32` and `f64`.
//!
//! Max pooling follows PyTorch: the gradient goes to the first maximum of a
//! window, and a NaN in a window wins. (The generic path gives every tied
//! maximum the full gradient, like dfdx's `max`.)

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::scratch::Scratch;
use crate::kernels::team;
use crate::layers::window_generic::WindowPlan;

/// The input, contiguous and row-major, in a pooled host buffer.
fn read_input<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>) -> Scratch<E> {
    let mut v = Scratch::uninit(t.shape().num_elements());
    t.copy_into(&mut v);
    v
}

/// Planes per parallel task: about one run per thread, at least a few
/// thousand elements each so small layers stay on one thread.
fn planes_per_task(planes: usize, plane_len: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let min = 4096usize.div_ceil(plane_len.max(1));
    planes.div_ceil(threads).max(min).max(1)
}

/// Runs `f(grad_out, grad_in)` on the gradient buffers of `out` and `inp`.
/// The output gradient is moved out of `grads` for the call (no copy) and
/// put back afterwards.
macro_rules! with_grads {
    ($grads:expr, $out:expr, $inp:expr, |$go:ident, $gi:ident| $body:block) => {{
        let $go: Vec<E> = std::mem::take(&mut *$grads.get_or_alloc_mut($out)?);
        let result = (|| -> Result<(), CpuError> {
            let $gi: &mut [E] = &mut $grads.get_or_alloc_mut($inp)?[..];
            let $go: &[E] = &$go;
            $body;
            Ok(())
        })();
        **$grads.get_or_alloc_mut($out)? = $go;
        result
    }};
}

/// `plan.index` with padding taps redirected to a real tap of the same
/// window (harmless for a max: a duplicate never beats the first maximum),
/// plus whether each window has any real tap at all.
fn max_taps(plan: &WindowPlan) -> (Vec<usize>, Vec<bool>) {
    let fill = plan.fill();
    let mut index = plan.index.clone();
    let mut real = Vec::with_capacity(plan.out_plane());
    for win in index.chunks_exact_mut(plan.taps) {
        let first = win.iter().copied().find(|&i| i != fill);
        real.push(first.is_some());
        for i in win.iter_mut() {
            if *i == fill {
                *i = first.unwrap_or(0);
            }
        }
    }
    (index, real)
}

/// `plan.index` and weights with padding taps redirected to position 0 with
/// weight 0, so the loops need no branch.
fn sum_taps<F: Elem>(plan: &WindowPlan) -> (Vec<usize>, Vec<F>) {
    let fill = plan.fill();
    let mut index = plan.index.clone();
    let mut weights: Vec<F> = match &plan.weights {
        Some(w) => w.iter().map(|&v| crate::elem::cast::<F>(v)).collect(),
        None => vec![F::one(); index.len()],
    };
    for (i, w) in index.iter_mut().zip(weights.iter_mut()) {
        if *i == fill {
            *i = 0;
            *w = F::zero();
        }
    }
    (index, weights)
}

/// Maximum of `xp` over `win` and its position: the first maximum, or the
/// last NaN if there is one (PyTorch's rule). Written with selects rather than
/// branches, which random data would mispredict half the time.
#[inline(always)]
fn window_argmax<F: Elem>(xp: &[F], win: &[usize]) -> (F, usize) {
    let mut bi = win[0];
    let mut bv = xp[bi];
    let mut nan = bv.is_nan();
    for &i in &win[1..] {
        let v = xp[i];
        let gt = v > bv;
        bi = if gt { i } else { bi };
        bv = if gt { v } else { bv };
        nan |= v.is_nan();
    }
    if nan {
        for &i in win {
            if xp[i].is_nan() {
                bi = i;
            }
        }
        bv = xp[bi];
    }
    (bv, bi)
}

/// `Cpu`'s [`Backend::window_max`](crate::backend::Backend::window_max).
pub(crate) fn max<S: Shape, S2: Shape, E: Elem, T: Tape<E, Cpu>>(
    x: Tensor<S, E, Cpu, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, Cpu, T>, CpuError> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    // Contiguous, so the gradient buffer is laid out like the data we read.
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let xs: Scratch<E> = read_input(&inp);
    let (m, p, taps) = (plan.in_plane(), plan.out_plane(), plan.taps);
    let (index, real) = max_taps(plan);
    let all_real = real.iter().all(|&r| r);
    let mut out = vec![E::zero(); n * p];
    // Per output, the in-plane position of its maximum (first one, NaN wins);
    // every element is written below.
    let mut arg = Scratch::uninit(n * p);
    let k = planes_per_task(n, m);
    team::each_chunk_mut2(&mut out, k * p, &mut arg, k * p, |t, out, arg| {
        let xs = team::chunk(&xs, k * m, t);
        for ((xp, op), ap) in xs
            .chunks_exact(m)
            .zip(out.chunks_exact_mut(p))
            .zip(arg.chunks_exact_mut(p))
        {
            for ((o, a), win) in op
                .iter_mut()
                .zip(ap.iter_mut())
                .zip(index.chunks_exact(taps))
            {
                (*o, *a) = window_argmax(xp, win);
            }
            if !all_real {
                for (o, &r) in op.iter_mut().zip(&real) {
                    if !r {
                        *o = E::neg_infinity();
                    }
                }
            }
        }
    });
    drop(xs);
    let out = inp.device().try_tensor_from_vec(out, out_shape)?;
    if T::OWNS_TAPE {
        let (out_ghost, inp_ghost) = (out.ghost(), inp.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            with_grads!(grads, &out_ghost, &inp_ghost, |go, gi| {
                team::each_chunk_mut(gi, k * m, |t, gi| {
                    let (go, arg) = (team::chunk(go, k * p, t), team::chunk(&arg, k * p, t));
                    for ((gip, gop), ap) in gi
                        .chunks_exact_mut(m)
                        .zip(go.chunks_exact(p))
                        .zip(arg.chunks_exact(p))
                    {
                        for ((g, &a), &r) in gop.iter().zip(ap).zip(&real) {
                            if r {
                                gip[a] += *g;
                            }
                        }
                    }
                });
            })
        });
    }
    Ok(out.put_tape(tape))
}

/// `Cpu`'s [`Backend::window_sum`](crate::backend::Backend::window_sum).
pub(crate) fn sum<S: Shape, S2: Shape, E: Elem, T: Tape<E, Cpu>>(
    x: Tensor<S, E, Cpu, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, Cpu, T>, CpuError> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let xs: Scratch<E> = read_input(&inp);
    let (m, p, taps) = (plan.in_plane(), plan.out_plane(), plan.taps);
    // A pure copy (nearest upsampling, padding without border) needs no weights.
    let copy = taps == 1 && plan.weights.is_none() && !plan.uses_fill();
    let (index, weights) = sum_taps::<E>(plan);
    let mut out = vec![E::zero(); n * p];
    let k = planes_per_task(n, p.max(m));
    team::each_chunk_mut(&mut out, k * p, |t, out| {
        let xs = team::chunk(&xs, k * m, t);
        sum_forward(xs, out, (m, p, taps), copy, &index, &weights)
    });
    drop(xs);
    let out = inp.device().try_tensor_from_vec(out, out_shape)?;
    if T::OWNS_TAPE {
        let (out_ghost, inp_ghost) = (out.ghost(), inp.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            with_grads!(grads, &out_ghost, &inp_ghost, |go, gi| {
                team::each_chunk_mut(gi, k * m, |t, gi| {
                    let go = team::chunk(go, k * p, t);
                    sum_backward(gi, go, (m, p, taps), copy, &index, &weights)
                });
            })
        });
    }
    Ok(out.put_tape(tape))
}

/// Forward of [`sum`] over whole planes: `xs` holds planes of `m`
/// inputs, `out` the matching planes of `p` outputs.
fn sum_forward<F: Elem>(
    xs: &[F],
    out: &mut [F],
    (m, p, taps): (usize, usize, usize),
    copy: bool,
    index: &[usize],
    weights: &[F],
) {
    for (xp, op) in xs.chunks_exact(m).zip(out.chunks_exact_mut(p)) {
        if copy {
            for (o, &i) in op.iter_mut().zip(index) {
                *o = xp[i];
            }
        } else {
            for ((o, win), wts) in op
                .iter_mut()
                .zip(index.chunks_exact(taps))
                .zip(weights.chunks_exact(taps))
            {
                let mut acc = F::zero();
                for (&i, &w) in win.iter().zip(wts) {
                    acc += w * xp[i];
                }
                *o = acc;
            }
        }
    }
}

/// Backward of [`sum`] over whole planes: adds the output gradients
/// `go` into the input gradients `gi`.
fn sum_backward<F: Elem>(
    gi: &mut [F],
    go: &[F],
    (m, p, taps): (usize, usize, usize),
    copy: bool,
    index: &[usize],
    weights: &[F],
) {
    for (gip, gop) in gi.chunks_exact_mut(m).zip(go.chunks_exact(p)) {
        if copy {
            for (&g, &i) in gop.iter().zip(index) {
                gip[i] += g;
            }
        } else {
            for ((&g, win), wts) in gop
                .iter()
                .zip(index.chunks_exact(taps))
                .zip(weights.chunks_exact(taps))
            {
                for (&i, &w) in win.iter().zip(wts) {
                    gip[i] += w * g;
                }
            }
        }
    }
}
