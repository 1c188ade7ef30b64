//! Sparse categorical cross-entropy on the CPU in one pass over the logits:
//! `Cpu`'s [`Backend::sparse_cross_entropy`](crate::backend::Backend::sparse_cross_entropy).
//!
//! The generic path is a one-hot tensor, `log_softmax`, a product, a sum and
//! a scale: five dfdx ops, each a pass (and an allocation) over `[N, C]`,
//! and as many again in the backward. For the language model's `[1120, 100]`
//! logits that was several percent of a training step. Here each row's
//! log-sum-exp and softmax are computed once; the backward adds
//! `dL * (softmax - onehot) / N`.

use dfdx::prelude::*;

use crate::elem::{cast, to_f64, Elem};
use crate::kernels::act_cpu::exp_f32;
use crate::kernels::fold_lanes;
use crate::kernels::host_view::host_view;

/// The element types of the kernel, with the `exp` it uses: for `f32` the
/// vectorizing [`exp_f32`], for `f64` libm's.
pub(crate) trait LossFloat: Elem {
    fn exp_k(self) -> Self;
}

impl LossFloat for f32 {
    #[inline]
    fn exp_k(self) -> f32 {
        exp_f32(self)
    }
}

impl LossFloat for f64 {
    #[inline]
    fn exp_k(self) -> f64 {
        self.exp()
    }
}

/// `mean over rows of (logsumexp(row) - row[label])` for `logits [N, C]`;
/// `labels` has one entry per row, each below `C` (the caller checked).
pub(crate) fn sparse_cross_entropy<E: LossFloat, T: Tape<E, Cpu>>(
    logits: Tensor<(usize, usize), E, Cpu, T>,
    labels: &[usize],
) -> Result<Tensor<Rank0, E, Cpu, T>, CpuError> {
    let (n, c) = *logits.shape();
    assert_eq!(labels.len(), n, "cross-entropy: one label per row");
    // Contiguous (a no-op for contiguous logits; a copy with its own
    // backward otherwise).
    let (logits, mut tape) = logits.try_reshape_like(&(n, c))?.split_tape();
    let x = host_view(&logits);
    // Softmax of every row (kept for the backward) and the summed losses.
    let mut probs = vec![E::zero(); n * c];
    let mut total = 0.0f64;
    for ((row, p), &label) in x
        .chunks_exact(c.max(1))
        .zip(probs.chunks_exact_mut(c.max(1)))
        .zip(labels)
    {
        let max = fold_lanes(row, E::neg_infinity(), E::max);
        // Separate loops for the exps and their sum, so the first vectorizes.
        for (p, &v) in p.iter_mut().zip(row) {
            *p = (v - max).exp_k();
        }
        let sum = fold_lanes(p, E::zero(), |a, b| a + b);
        let inv = E::one() / sum;
        p.iter_mut().for_each(|p| *p *= inv);
        // logsumexp - x[label] = ln(sum) - (x[label] - max).
        total += to_f64(sum.ln() - (row[label] - max));
    }
    let value = cast::<E>(total / n as f64);
    let dev = logits.device().clone();
    let out = dev.try_tensor_from_vec(vec![value], ())?;
    if T::OWNS_TAPE {
        let (x_g, out_g) = (logits.ghost(), out.ghost());
        let labels = labels.to_vec();
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            let scale = grads.get_or_alloc_mut(&out_g)?[0] / cast::<E>(n as f64);
            let gx = grads.get_or_alloc_mut(&x_g)?;
            for ((g, p), &label) in gx
                .chunks_exact_mut(c.max(1))
                .zip(probs.chunks_exact(c.max(1)))
                .zip(&labels)
            {
                for (g, &p) in g.iter_mut().zip(p) {
                    *g += p * scale;
                }
                g[label] -= scale;
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::sparse_cross_entropy_generic;

    /// Loss and logits gradient of `2.5 * loss` (so the upstream gradient
    /// is not 1), by the kernel or the generic dfdx path.
    fn run<E: LossFloat>((n, c): (usize, usize), spread: f64, kernel: bool) -> (f64, Vec<f64>)
    where
        Cpu: Device<E>,
    {
        let dev = Cpu::default();
        let data: Vec<E> = (0..n * c)
            .map(|i| cast::<E>(((i * 7919 % 211) as f64 / 105.0 - 1.0) * spread))
            .collect();
        let labels: Vec<usize> = (0..n).map(|r| (r * 31 + 3) % c).collect();
        let x = dev.tensor_from_vec(data, (n, c));
        let traced = x.leaky_trace();
        let l = if kernel {
            sparse_cross_entropy(traced, &labels).unwrap()
        } else {
            sparse_cross_entropy_generic(traced, &labels).unwrap()
        };
        let value = to_f64(l.array());
        let g = (l * cast::<E>(2.5)).backward();
        (value, g.get(&x).as_vec().into_iter().map(to_f64).collect())
    }

    fn compare<E: LossFloat>(tol: f64)
    where
        Cpu: Device<E>,
    {
        // One class; one row; the language model's width; logits up to
        // +-90 (exp would overflow without the max shift).
        for (shape, spread) in [
            ((1, 1), 1.0),
            ((1, 7), 3.0),
            ((9, 5), 2.0),
            ((33, 100), 4.0),
            ((4, 10), 90.0),
        ] {
            let (lk, gk) = run::<E>(shape, spread, true);
            let (lg, gg) = run::<E>(shape, spread, false);
            assert!(lk.is_finite(), "{shape:?}: {lk}");
            assert!(
                (lk - lg).abs() <= tol * lg.abs().max(1.0),
                "{shape:?}: loss {lk} vs {lg}"
            );
            for (i, (a, b)) in gk.iter().zip(&gg).enumerate() {
                assert!((a - b).abs() <= tol, "{shape:?} [{i}]: grad {a} vs {b}");
            }
        }
    }

    #[test]
    fn kernel_matches_the_generic_path() {
        compare::<f64>(1e-12);
        compare::<f32>(2e-6);
    }

    /// `-log softmax` by hand in f64, and its gradient `softmax - onehot`.
    #[test]
    fn values_match_the_formula() {
        let (n, c) = (3, 4);
        let (loss, grad) = run::<f64>((n, c), 2.0, true);
        let data: Vec<f64> = (0..n * c)
            .map(|i| ((i * 7919 % 211) as f64 / 105.0 - 1.0) * 2.0)
            .collect();
        let mut want = 0.0;
        for r in 0..n {
            let row = &data[r * c..(r + 1) * c];
            let label = (r * 31 + 3) % c;
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            want += (lse - row[label]) / n as f64;
            for (j, v) in row.iter().enumerate() {
                let p = (v - lse).exp() - if j == label { 1.0 } else { 0.0 };
                assert!((grad[r * c + j] - 2.5 * p / n as f64).abs() < 1e-12);
            }
        }
        assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
    }
}
