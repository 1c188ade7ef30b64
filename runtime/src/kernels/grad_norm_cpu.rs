//! Squared L2 norm of a gradient buffer in host memory: `Cpu`'s
//! [`Backend::grad_sq_norm`](crate::backend::Backend::grad_sq_norm), read
//! straight from the buffer (no tensor op, no copy).

use crate::elem::{to_f64, Elem};
use crate::kernels::team;

/// Elements whose squares are summed in `E` before the sum moves to `f64`.
const BLOCK: usize = 1024;
/// Blocks one task of a parallel norm takes (128 KiB of `f32`).
const BLOCKS_PER_TASK: usize = 32;

/// `sum(v^2)`: squares summed in `E` over 8 lanes within blocks of
/// [`BLOCK`] elements (so the loop vectorises), blocks summed in `f64` in
/// order. Long buffers have their blocks summed on the kernels' team; the
/// block sums are then added in the same order, so the result is the same
/// bits whatever the thread count.
pub(crate) fn sq_norm<E: Elem>(v: &[E]) -> f64 {
    let per_task = BLOCK * BLOCKS_PER_TASK;
    if v.len() < 2 * per_task || rayon::current_num_threads() < 2 {
        return v.chunks(BLOCK).map(block_sums).fold(0.0, add_block);
    }
    let tasks = v.len().div_ceil(per_task);
    team::map(tasks, |t| {
        team::chunk(v, per_task, t)
            .chunks(BLOCK)
            .map(block_sums)
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .fold(0.0, add_block)
}

/// One block's sum of squares: its 8-lane part (summed in `E`) and its
/// tail (in `f64`).
fn block_sums<E: Elem>(block: &[E]) -> (f64, f64) {
    let mut acc = [E::zero(); 8];
    let lanes = block.chunks_exact(8);
    let tail = lanes.remainder();
    for c in lanes {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x * x;
        }
    }
    (
        acc.iter().map(|&a| to_f64(a)).sum::<f64>(),
        tail.iter().map(|&x| to_f64(x) * to_f64(x)).sum::<f64>(),
    )
}

/// The running total plus one block's sums, in the order of the serial loop.
fn add_block(total: f64, (lanes, tail): (f64, f64)) -> f64 {
    total + lanes + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_f64_sum() {
        let v: Vec<f32> = (0..5003)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let want = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let got = sq_norm(&v);
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        assert_eq!(sq_norm::<f64>(&[3.0, 4.0]), 25.0);
        assert!(sq_norm(&[1.0f32, f32::NAN]).is_nan());
        assert_eq!(sq_norm::<f32>(&[]), 0.0);
    }

    /// Long buffers are summed on the team: the same bits at 1, 2 and 3
    /// threads, and close to an f64 sum (so the parallel blocks are all
    /// there, once).
    #[test]
    fn parallel_sum_is_the_serial_one() {
        let n = 3 * BLOCK * BLOCKS_PER_TASK + 517;
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 97.0)
            .collect();
        let want = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let at = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| sq_norm(&v))
        };
        let one = at(1);
        assert!((one - want).abs() <= 1e-6 * want, "{one} vs {want}");
        for threads in [2, 3] {
            assert_eq!(at(threads).to_bits(), one.to_bits(), "{threads} threads");
        }
        let mut nan = v.clone();
        nan[n - 3] = f32::NAN;
        assert!(at(2).is_finite() && sq_norm(&nan).is_nan());
    }
}
