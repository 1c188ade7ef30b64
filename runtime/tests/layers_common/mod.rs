//! Shared helpers for the `layers_*` integration tests.

#![allow(dead_code)]

use sxima_runtime::dfdx::prelude::*;
use sxima_testkit::assert_gradient_matches;

pub type Tape64 = OwnedTape<f64, Cpu>;

/// Deterministic pseudo-random values in about `[-2, 2)` (distinct, no ties).
pub fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

/// Checks the gradient of `L(x) = sum(f(x) * w)` (fixed random `w`) with
/// respect to `x` against central differences, in f64.
pub fn check_input_gradient<S: Shape, S2: Shape>(
    what: &str,
    shape: S,
    seed: u64,
    mut f: impl FnMut(Tensor<S, f64, Cpu, Tape64>) -> Tensor<S2, f64, Cpu, Tape64>,
) {
    let dev = Cpu::default();
    let x0 = values(shape.num_elements(), seed);
    let x = dev.tensor_from_vec(x0.clone(), shape);
    let y = f(x.leaky_trace());
    let out_shape = *y.shape();
    let w = dev.tensor_from_vec(values(out_shape.num_elements(), seed + 1), out_shape);
    let g = (y * w.clone()).sum::<Rank0, _>().backward();
    let analytic = g.get(&x).as_vec();
    assert_gradient_matches(what, &x0, &analytic, 1e-6, 1e-5, |xs| {
        let x = dev.tensor_from_vec(xs.to_vec(), shape);
        (f(x.leaky_trace()) * w.clone()).sum::<Rank0, _>().array()
    });
}
