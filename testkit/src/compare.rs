//! Element-wise comparison against reference values: `|got - want| <= tol *
//! max(1, |want|)` (relative above magnitude 1, absolute below), with NaN
//! always a mismatch.

use crate::fixture::Fixture;

/// The first violation of `|got - want| <= tol * max(1, |want|)`, as
/// `(index, got, want)`, or `None` when all elements are close. A length
/// mismatch is reported as `(usize::MAX, got.len(), want.len())`.
// `!(a <= b)` on purpose: a NaN must count as a mismatch.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn first_mismatch(got: &[f64], want: &[f64], tol: f64) -> Option<(usize, f64, f64)> {
    if got.len() != want.len() {
        return Some((usize::MAX, got.len() as f64, want.len() as f64));
    }
    got.iter()
        .zip(want)
        .enumerate()
        .find(|(_, (g, w))| !((*g - *w).abs() <= tol * w.abs().max(1.0)))
        .map(|(i, (g, w))| (i, *g, *w))
}

/// Asserts `got` matches the fixture tensor `name` within `tol`. Panics with
/// the file, tensor name and first bad index (tests only).
pub fn assert_close<T: Copy + Into<f64>>(fixture: &Fixture, name: &str, got: &[T], tol: f64) {
    let want = fixture.tensor(name);
    let got: Vec<f64> = got.iter().map(|&v| v.into()).collect();
    if let Some((i, g, w)) = first_mismatch(&got, &want.data_f64(), tol) {
        if i == usize::MAX {
            panic!("{} `{name}`: {g} values, fixture has {w}", fixture.file);
        }
        panic!(
            "{} `{name}`[{i}]: got {g}, PyTorch {w} (tolerance {tol})",
            fixture.file
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_is_reported() {
        assert_eq!(first_mismatch(&[1.0, 2.0], &[1.0, 2.0], 1e-6), None);
        assert_eq!(
            first_mismatch(&[1.0, 2.1], &[1.0, 2.0], 1e-6),
            Some((1, 2.1, 2.0))
        );
        assert!(first_mismatch(&[f64::NAN], &[1.0], 1e-6).is_some());
        assert_eq!(
            first_mismatch(&[1.0], &[1.0, 2.0], 1e-6),
            Some((usize::MAX, 1.0, 2.0))
        );
    }

    #[test]
    fn tolerance_is_relative_above_one_and_absolute_below() {
        assert_eq!(first_mismatch(&[1000.5], &[1000.0], 1e-3), None);
        assert!(first_mismatch(&[0.0015], &[0.0], 1e-3).is_some());
    }
}
