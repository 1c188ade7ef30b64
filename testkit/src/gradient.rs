//! Central finite differences, to check analytic (autodiff) gradients.
//! Use `f64` tensors so that `eps = 1e-6`, `tol = 1e-5` are meaningful.

use crate::compare::first_mismatch;

/// Central-difference gradient of `f` at `x`: `(f(x + eps e_i) - f(x - eps e_i)) / 2 eps`.
pub fn numeric_gradient(x: &[f64], eps: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = x[i];
            x[i] = orig + eps;
            let up = f(&x);
            x[i] = orig - eps;
            let down = f(&x);
            x[i] = orig;
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// Asserts an analytic gradient matches central differences of `f` at `x`
/// (panics with `what` and the first bad index; tests only).
pub fn assert_gradient_matches(
    what: &str,
    x: &[f64],
    analytic: &[f64],
    eps: f64,
    tol: f64,
    f: impl FnMut(&[f64]) -> f64,
) {
    let numeric = numeric_gradient(x, eps, f);
    if let Some((i, g, w)) = first_mismatch(analytic, &numeric, tol) {
        panic!("{what}: analytic gradient [{i}] = {g}, finite difference = {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_gradient_of_a_polynomial() {
        let f = |x: &[f64]| x[0] * x[0] * x[1] + 3.0 * x[1];
        let (a, b) = (3.0, -2.0);
        let g = numeric_gradient(&[a, b], 1e-6, f);
        assert!((g[0] - 2.0 * a * b).abs() < 1e-6, "{g:?}");
        assert!((g[1] - (a * a + 3.0)).abs() < 1e-6, "{g:?}");
    }

    #[test]
    #[should_panic(expected = "analytic gradient [1]")]
    fn a_wrong_gradient_is_caught() {
        assert_gradient_matches("sq", &[1.0, 2.0], &[2.0, 5.0], 1e-6, 1e-5, |x| {
            x.iter().map(|v| v * v).sum()
        });
    }
}
