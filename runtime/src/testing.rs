//! Test support shared by every numeric test: the PyTorch fixtures in
//! `../shared/fixtures` (or `$SXIMA_FIXTURES`) and finite-difference checks.
//!
//! The fixture harness (`runtime/tests/fixtures/main.rs`) is driven by the
//! folder's `index.json`: it walks every file, checks each one whose `op` has a
//! checker registered, and prints how many it checked and which ops it does
//! not support yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// One tensor of a fixture file: row-major data and its shape (`[]` = scalar).
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl FixtureTensor {
    /// The value of a scalar tensor (or the first element).
    pub fn scalar(&self) -> f32 {
        self.data[0]
    }
    /// Data as `f64`, for tests run in double precision.
    pub fn data_f64(&self) -> Vec<f64> {
        self.data.iter().map(|&v| v as f64).collect()
    }
}

/// One fixture file.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// File name (set by the loader).
    #[serde(skip)]
    pub file: String,
    pub op: String,
    #[serde(default)]
    pub description: String,
    pub config: serde_json::Value,
    pub tensors: BTreeMap<String, FixtureTensor>,
}

impl Fixture {
    /// The tensor called `name`; panics with the file name if missing (tests only).
    pub fn tensor(&self, name: &str) -> &FixtureTensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.file))
    }
    /// A config entry as `f64`; panics with the file name if missing (tests only).
    pub fn cfg_f64(&self, key: &str) -> f64 {
        self.config[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: config `{key}` is not a number", self.file))
    }
    /// A config entry as `usize`.
    pub fn cfg_usize(&self, key: &str) -> usize {
        self.cfg_f64(key) as usize
    }
}

#[derive(Deserialize)]
struct Index {
    files: Vec<IndexEntry>,
}

/// One line of `index.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexEntry {
    pub file: String,
    pub op: String,
}

/// Every file listed in `index.json`, in order.
pub fn index_entries() -> Result<Vec<IndexEntry>> {
    Ok(read_index(&fixtures_dir())?.files)
}

/// Loads one fixture file by name.
pub fn load_fixture(file: &str) -> Result<Fixture> {
    let path = fixtures_dir().join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let mut f: Fixture = serde_json::from_str(&text)
        .map_err(|err| Error::Data(format!("{}: {err}", path.display())))?;
    f.file = file.to_string();
    Ok(f)
}

/// `$SXIMA_FIXTURES` if set, else `<workspace>/../shared/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SXIMA_FIXTURES") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

fn read_index(dir: &Path) -> Result<Index> {
    let path = dir.join("index.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
}

/// Every op named in `index.json`, with its file count.
pub fn ops_in_index() -> Result<BTreeMap<String, usize>> {
    let mut ops = BTreeMap::new();
    for e in read_index(&fixtures_dir())?.files {
        *ops.entry(e.op).or_insert(0) += 1;
    }
    Ok(ops)
}

/// Loads every fixture file whose `op` is `op`, in index order.
pub fn fixtures_for_op(op: &str) -> Result<Vec<Fixture>> {
    index_entries()?
        .iter()
        .filter(|e| e.op == op)
        .map(|e| load_fixture(&e.file))
        .collect()
}

/// Largest violation of `|got - want| <= tol * max(1, |want|)`, as
/// `(index, got, want)`, or `None` when all elements are close.
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

/// Asserts `got` matches the fixture tensor within `tol` relative (absolute
/// below magnitude 1). Panics with the file, tensor name and first bad index.
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

/// Central-difference gradient of `f` at `x` (double precision).
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

/// Asserts an analytic gradient matches central differences of `f` at `x`.
/// Use `f64` tensors so `eps = 1e-6`, `tol = 1e-5` are meaningful.
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
    fn index_is_readable_and_nonempty() {
        let ops = ops_in_index().expect("fixtures index");
        assert!(ops.values().sum::<usize>() > 100, "{ops:?}");
        let relu = fixtures_for_op("activation").unwrap();
        assert_eq!(relu.len(), 10);
    }

    #[test]
    fn numeric_gradient_of_square() {
        let g = numeric_gradient(&[3.0, -2.0], 1e-6, |x| x[0] * x[0] + 3.0 * x[1]);
        assert!((g[0] - 6.0).abs() < 1e-6 && (g[1] - 3.0).abs() < 1e-6);
    }

    #[test]
    fn mismatch_is_reported() {
        assert_eq!(first_mismatch(&[1.0, 2.0], &[1.0, 2.0], 1e-6), None);
        assert_eq!(
            first_mismatch(&[1.0, 2.1], &[1.0, 2.0], 1e-6),
            Some((1, 2.1, 2.0))
        );
        assert!(first_mismatch(&[f64::NAN], &[1.0], 1e-6).is_some());
    }
}
