//! `LocalResponseNorm` in f64 on `Cpu`: values against a direct loop over
//! PyTorch's formula, and the input gradient against finite differences, for
//! odd and even windows, windows wider than the channel count, 4-D and 2-D
//! inputs, dynamic and const dims. (The PyTorch fixtures are checked by the
//! harness in `testkit/`.)

mod layers_common;

use layers_common::{check_input_gradient, values};
use sxima_runtime::dfdx::nn::{Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::LocalResponseNorm;
use sxima_testkit::first_mismatch;

/// PyTorch's formula, one element at a time: `x` is `[b, c, p]` row-major.
fn reference(lrn: &LocalResponseNorm, x: &[f64], (b, c, p): (usize, usize, usize)) -> Vec<f64> {
    let n = lrn.size as isize;
    let mut out = vec![0.0; x.len()];
    for bi in 0..b {
        for ch in 0..c as isize {
            for pi in 0..p {
                let at = |k: isize| x[(bi * c + k as usize) * p + pi];
                let window = (ch - n / 2)..=(ch + (n - 1) / 2);
                let sum: f64 = window
                    .filter(|k| (0..c as isize).contains(k))
                    .map(|k| at(k) * at(k))
                    .sum();
                let denom = (lrn.k + lrn.alpha / lrn.size as f64 * sum).powf(lrn.beta);
                out[(bi * c + ch as usize) * p + pi] = at(ch) / denom;
            }
        }
    }
    out
}

/// Window sizes around and beyond the 5 channels used below.
const SIZES: [usize; 7] = [1, 2, 3, 4, 5, 6, 9];

fn layer(size: usize) -> LocalResponseNorm {
    // A large alpha so the window's sum of squares matters.
    LocalResponseNorm::new(size, 0.8, 0.75, 1.5)
}

#[test]
fn values_follow_pytorchs_formula() {
    let dev = Cpu::default();
    let shape = (2usize, 5usize, 3usize, 2usize);
    let x0 = values(2 * 5 * 3 * 2, 7);
    for size in SIZES {
        let lrn = layer(size);
        let y = lrn.forward(dev.tensor_from_vec(x0.clone(), shape));
        let want = reference(&lrn, &x0, (2, 5, 6));
        assert_eq!(
            first_mismatch(&y.as_vec(), &want, 1e-12),
            None,
            "size {size}"
        );
    }
}

#[test]
fn gradient_4d_matches_finite_differences() {
    for size in SIZES {
        check_input_gradient(
            &format!("LocalResponseNorm({size}) on (B, C, H, W)"),
            (2usize, 5usize, 3usize, 2usize),
            size as u64,
            |x| layer(size).forward(x),
        );
    }
}

#[test]
fn gradient_2d_matches_finite_differences() {
    for size in SIZES {
        check_input_gradient(
            &format!("LocalResponseNorm({size}) on (B, C)"),
            (3usize, 5usize),
            10 + size as u64,
            |x| layer(size).forward(x),
        );
    }
}

#[test]
fn sequences_follow_pytorchs_formula_with_gradients() {
    // `[B, C, L]`: the window runs over the channels at each position, as
    // PyTorch's `local_response_norm` on a 3-d input.
    let dev = Cpu::default();
    let x0 = values(2 * 5 * 4, 21);
    for size in SIZES {
        let lrn = layer(size);
        let y = lrn.forward(dev.tensor_from_vec(x0.clone(), (2usize, Const::<5>, 4usize)));
        let want = reference(&lrn, &x0, (2, 5, 4));
        assert_eq!(
            first_mismatch(&y.as_vec(), &want, 1e-12),
            None,
            "size {size}"
        );
        check_input_gradient(
            &format!("LocalResponseNorm({size}) on (B, C, L)"),
            (2usize, 5usize, 4usize),
            30 + size as u64,
            |x| layer(size).forward(x),
        );
    }
}

#[test]
fn const_dims_2d_and_training_forward_agree_with_dynamic() {
    let dev = Cpu::default();
    let lrn = layer(3);
    let x0 = values(2 * 5 * 3 * 2, 3);
    let dynamic = lrn.forward(dev.tensor_from_vec(x0.clone(), (2usize, 5usize, 3usize, 2usize)));
    let mut m = lrn;
    let x: Tensor<Rank4<2, 5, 3, 2>, f64, _> = dev.tensor_from_vec(x0, Default::default());
    let fixed = m.forward_mut(x);
    assert_eq!(dynamic.as_vec(), fixed.as_vec());
    // (B, C) is (B, C, 1, 1).
    let x2 = values(4 * 5, 5);
    let flat = lrn.forward(dev.tensor_from_vec(x2.clone(), (4usize, Const::<5>)));
    let image = lrn.forward(dev.tensor_from_vec(x2, (4usize, Const::<5>, 1usize, 1usize)));
    assert_eq!(flat.as_vec(), image.as_vec());
}
