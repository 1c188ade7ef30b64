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
mod conv_shifted;
mod conv_winograd;
pub(crate) mod dense_cpu;
pub(crate) mod distinct_rows;
pub(crate) mod embedding_cpu;
pub(crate) mod gemm_cpu;
pub(crate) mod grad_norm_cpu;
pub(crate) mod host_view;
pub(crate) mod input_grad;
pub(crate) mod loss_cpu;
#[cfg(target_arch = "x86_64")]
pub(crate) mod lstm_avx512;
pub(crate) mod param_cache;
pub(crate) mod recurrent_cpu;
pub(crate) mod scratch;
pub(crate) mod sgemm;
pub(crate) mod team;
pub(crate) mod window_cpu;

use dfdx::prelude::*;

/// `x`, `w` and the bias without tapes, and the tape merged from theirs.
pub(crate) type SplitOperands<S1, S2, E, T> = (
    Tensor<S1, E, Cpu>,
    Tensor<S2, E, Cpu>,
    Option<Tensor<(usize,), E, Cpu>>,
    T,
);

/// The operands of a kernel with a weight and an optional bias, without
/// their tapes, and the one tape merged from all three (what the kernel's
/// output carries and its backward op is added to).
pub(crate) fn split_operands<S1: Shape, S2: Shape, E: Dtype, T: Tape<E, Cpu>>(
    x: Tensor<S1, E, Cpu, T>,
    w: Tensor<S2, E, Cpu, T>,
    bias: Option<Tensor<(usize,), E, Cpu, T>>,
) -> SplitOperands<S1, S2, E, T> {
    let (x, tape_x) = x.split_tape();
    let (w, tape_w) = w.split_tape();
    let tape = tape_x.merge(tape_w);
    match bias {
        Some(b) => {
            let (b, tape_b) = b.split_tape();
            (x, w, Some(b), tape.merge(tape_b))
        }
        None => (x, w, None, tape),
    }
}

/// `v` folded with `f` over 8 lanes, the lanes then folded in order: a
/// reduction the compiler vectorizes (a single chain of float operations
/// it may not reorder).
#[inline]
pub(crate) fn fold_lanes<E: crate::elem::Elem>(v: &[E], init: E, f: impl Fn(E, E) -> E) -> E {
    let mut acc = [init; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = f(*a, x);
        }
    }
    let folded = acc.into_iter().fold(init, &f);
    tail.iter().fold(folded, |a, &x| f(a, x))
}

/// `dst[i] += src[i]` (same lengths), 8 values at a time so the loop
/// vectorizes (a plain loop over a few dozen values stayed scalar).
#[inline]
pub(crate) fn add_run<E: crate::elem::Elem>(dst: &mut [E], src: &[E]) {
    debug_assert_eq!(dst.len(), src.len(), "add_run: lengths");
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        // A constant length, so the 8 adds become one vector add.
        for (d, &s) in d[..8].iter_mut().zip(&s[..8]) {
            *d += s;
        }
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d += s;
    }
}

/// Deterministic values in `[-2, 2)` (xorshift) for the kernels' unit tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}
