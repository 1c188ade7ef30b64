//! Principal component analysis: the top `k` eigenvectors of the sample
//! covariance, found by block subspace iteration with Rayleigh–Ritz, the
//! linear baseline for an autoencoder's code.

use crate::error::{Error, Result};

/// Extra vectors iterated beside the `k` wanted ones: they speed up
/// convergence when the `k`-th eigenvalue is close to the next ones.
const OVERSAMPLE: usize = 8;
/// Most subspace iterations before the current estimate is returned.
const MAX_ITERS: usize = 2000;
/// Converged when every wanted Ritz pair has `|C v - λ v| <= TOL * λ_max`.
const TOL: f64 = 1e-9;

/// A fitted PCA: the data mean and the top `k` principal axes with their
/// variances.
///
/// Shapes: `mean` is `[dim]`; `components` is `[k, dim]` row-major, rows
/// orthonormal, ordered by decreasing variance, each with the sign that
/// makes its largest-magnitude entry positive (so results are
/// reproducible); `variances` is `[k]` (sample variance along each axis,
/// divisor `n - 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    dim: usize,
    mean: Vec<f64>,
    components: Vec<f64>,
    variances: Vec<f64>,
}

impl Pca {
    /// Fits the top `k` principal axes of `data`, `n` samples of `dim`
    /// values each, row-major (`data.len() == n * dim`).
    ///
    /// Forms the `[dim, dim]` covariance once (a multithreaded `f32` matrix
    /// product, `n * dim²` multiply-adds), then iterates a block of
    /// `min(dim, k + 8)` vectors: `Z = C Q`, Rayleigh–Ritz on `Qᵀ Z`,
    /// re-orthonormalise, until each of the `k` Ritz pairs has residual
    /// `|C v - λ v| <= 1e-9 λ_max` (at most 2,000 iterations). Deterministic:
    /// the start block is drawn from a fixed-seed generator.
    ///
    /// Errors when `dim` is 0, `data.len()` is not a multiple of `dim`,
    /// there are fewer than 2 samples, `k` is 0 or above `dim`, or a value
    /// is not finite.
    pub fn fit(data: &[f32], dim: usize, k: usize) -> Result<Pca> {
        if dim == 0 {
            return Err(Error::config("PCA dim", dim, "must be positive"));
        }
        if data.len() % dim != 0 {
            return Err(Error::data(
                "PCA data",
                format!("a multiple of dim = {dim} values"),
                format!("{} values", data.len()),
            ));
        }
        let n = data.len() / dim;
        if n < 2 {
            return Err(Error::data(
                "PCA data",
                "at least 2 samples",
                format!("{n} sample(s)"),
            ));
        }
        if k == 0 || k > dim {
            return Err(Error::config(
                "PCA components",
                k,
                format!("must be between 1 and dim = {dim}"),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("PCA data sample {} feature {}", i / dim, i % dim),
                "a finite value",
                format!("{}", data[i]),
            ));
        }
        let mean = column_mean(data, dim);
        let cov = covariance(data, dim, &mean);
        let (components, variances) = top_eigenpairs(&cov, dim, k);
        Ok(Pca {
            dim,
            mean,
            components,
            variances,
        })
    }

    /// The number of values per sample the PCA was fitted on.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of principal axes kept.
    pub fn k(&self) -> usize {
        self.variances.len()
    }

    /// The data mean, `[dim]`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The principal axes, `[k, dim]` row-major, orthonormal rows.
    pub fn components(&self) -> &[f64] {
        &self.components
    }

    /// The variance of the data along each axis, `[k]`, decreasing.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// Projects `data` (`n` samples of `dim` values, row-major) onto the
    /// axes: `[n, k]` row-major codes `(x - mean) · component_j`. The codes
    /// of the fitted data have mean 0.
    ///
    /// Errors when `data.len()` is not a multiple of `dim`.
    pub fn transform(&self, data: &[f32]) -> Result<Vec<f32>> {
        if data.len() % self.dim != 0 {
            return Err(Error::data(
                "PCA transform input",
                format!("a multiple of dim = {} values", self.dim),
                format!("{} values", data.len()),
            ));
        }
        let k = self.k();
        let mut out = Vec::with_capacity(data.len() / self.dim * k);
        let mut centred = vec![0.0f64; self.dim];
        for x in data.chunks(self.dim) {
            for ((c, &v), m) in centred.iter_mut().zip(x).zip(&self.mean) {
                *c = v as f64 - m;
            }
            for axis in self.components.chunks(self.dim) {
                out.push(dot(axis, &centred) as f32);
            }
        }
        Ok(out)
    }

    /// Maps codes (`n` rows of `k` values) back to the data space:
    /// `[n, dim]` row-major, `mean + Σ_j code_j component_j`.
    ///
    /// Errors when `codes.len()` is not a multiple of `k`.
    pub fn inverse_transform(&self, codes: &[f32]) -> Result<Vec<f32>> {
        let k = self.k();
        if codes.len() % k != 0 {
            return Err(Error::data(
                "PCA inverse_transform input",
                format!("a multiple of k = {k} values"),
                format!("{} values", codes.len()),
            ));
        }
        let mut out = Vec::with_capacity(codes.len() / k * self.dim);
        for z in codes.chunks(k) {
            let mut x = self.mean.clone();
            for (&zj, axis) in z.iter().zip(self.components.chunks(self.dim)) {
                for (xi, a) in x.iter_mut().zip(axis) {
                    *xi += zj as f64 * a;
                }
            }
            out.extend(x.into_iter().map(|v| v as f32));
        }
        Ok(out)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mean of each of the `dim` columns of the row-major `data`.
fn column_mean(data: &[f32], dim: usize) -> Vec<f64> {
    let n = data.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for x in data.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(x) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    mean
}

/// Sample covariance `Xcᵀ Xc / (n - 1)`, `[dim, dim]` row-major, with `Xc`
/// the centred data. The product runs in `f32` (the data's precision; the
/// centring removes the large common part first), the result is `f64`.
fn covariance(data: &[f32], dim: usize, mean: &[f64]) -> Vec<f64> {
    let n = data.len() / dim;
    let centred: Vec<f32> = data
        .chunks(dim)
        .flat_map(|x| x.iter().zip(mean).map(|(&v, m)| (v as f64 - m) as f32))
        .collect();
    let mut cov = vec![0.0f32; dim * dim];
    // SAFETY: `cov` is `dim x dim` with row stride `dim` and column stride 1;
    // the left operand `Xcᵀ` is `dim x n` read from `centred` (`n x dim`,
    // row-major) with row stride 1 and column stride `dim`; the right operand
    // `Xc` is `n x dim` with row stride `dim` and column stride 1. Every index
    // `r * rs + c * cs` with `r`, `c` below these sizes lies inside its slice
    // (`centred.len() == n * dim`, `cov.len() == dim * dim`), and `cov` does
    // not alias `centred`.
    unsafe {
        gemm::gemm(
            dim,
            dim,
            n,
            cov.as_mut_ptr(),
            1,
            dim as isize,
            false,
            centred.as_ptr(),
            dim as isize,
            1,
            centred.as_ptr(),
            1,
            dim as isize,
            0.0,
            1.0 / (n - 1) as f32,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        )
    }
    // Symmetrise (the blocked product may round the two triangles apart).
    let mut out = vec![0.0f64; dim * dim];
    for i in 0..dim {
        for j in 0..dim {
            out[i * dim + j] = 0.5 * (cov[i * dim + j] as f64 + cov[j * dim + i] as f64);
        }
    }
    out
}

/// The top `k` eigenpairs of the symmetric `[dim, dim]` matrix `c`:
/// (`[k, dim]` row-major unit eigenvectors, `[k]` eigenvalues), decreasing.
fn top_eigenpairs(c: &[f64], dim: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let p = (k + OVERSAMPLE).min(dim);
    // Block of p column vectors stored as p rows of `dim` values.
    let mut rng = SplitMix(0x5eed_0f_9ca);
    let mut q: Vec<f64> = (0..p * dim).map(|_| rng.uniform() - 0.5).collect();
    orthonormalize(&mut q, dim);
    let scale = c
        .chunks(dim)
        .enumerate()
        .map(|(i, r)| r[i])
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut ritz = vec![0.0f64; p];
    for _ in 0..MAX_ITERS {
        // Z = C Q (C symmetric, so each row of Z is C applied to a row of Q).
        let z: Vec<f64> = q
            .chunks(dim)
            .flat_map(|v| c.chunks(dim).map(move |row| dot(row, v)))
            .collect();
        // Rayleigh–Ritz: T = Qᵀ C Q (p x p), T = V Λ Vᵀ.
        let t: Vec<f64> = (0..p * p)
            .map(|ij| dot(&q[ij / p * dim..][..dim], &z[ij % p * dim..][..dim]))
            .collect();
        let (vals, vecs) = jacobi_eigen(t, p);
        // Ritz vectors Q V and their images Z V, ordered by decreasing value.
        let rotate = |m: &[f64]| -> Vec<f64> {
            let mut out = vec![0.0f64; p * dim];
            for (j, o) in out.chunks_mut(dim).enumerate() {
                for (i, row) in m.chunks(dim).enumerate() {
                    let w = vecs[i * p + j];
                    o.iter_mut().zip(row).for_each(|(a, b)| *a += w * b);
                }
            }
            out
        };
        let (qv, zv) = (rotate(&q), rotate(&z));
        ritz.copy_from_slice(&vals);
        let converged = (0..k).all(|j| {
            let r: f64 = zv[j * dim..][..dim]
                .iter()
                .zip(&qv[j * dim..][..dim])
                .map(|(a, b)| (a - vals[j] * b).powi(2))
                .sum();
            r.sqrt() <= TOL * scale.max(vals[0].abs())
        });
        if converged {
            q = qv;
            break;
        }
        q = zv;
        orthonormalize(&mut q, dim);
    }
    let mut components = q[..k * dim].to_vec();
    for axis in components.chunks_mut(dim) {
        let big = axis
            .iter()
            .fold(0.0f64, |m, &v| if v.abs() > m.abs() { v } else { m });
        if big < 0.0 {
            axis.iter_mut().for_each(|v| *v = -*v);
        }
    }
    (components, ritz[..k].iter().map(|v| v.max(0.0)).collect())
}

/// Modified Gram–Schmidt (twice, for stability) on the rows of `q`
/// (`len / dim` vectors of `dim` values). A row that vanishes is replaced by
/// a unit vector orthogonal to the previous ones.
fn orthonormalize(q: &mut [f64], dim: usize) {
    let rows = q.len() / dim;
    for i in 0..rows {
        for _ in 0..2 {
            for j in 0..i {
                let (done, rest) = q.split_at_mut(i * dim);
                let prev = &done[j * dim..][..dim];
                let v = &mut rest[..dim];
                let d = dot(prev, v);
                v.iter_mut().zip(prev).for_each(|(a, b)| *a -= d * b);
            }
        }
        let norm = dot(&q[i * dim..][..dim], &q[i * dim..][..dim]).sqrt();
        if norm > 1e-300 {
            q[i * dim..][..dim].iter_mut().for_each(|v| *v /= norm);
        } else {
            // Deterministic replacement: the first basis vector with a
            // non-zero residual after projection.
            for e in 0..dim {
                let mut v = vec![0.0f64; dim];
                v[e] = 1.0;
                for j in 0..i {
                    let prev = &q[j * dim..][..dim];
                    let d = dot(prev, &v);
                    v.iter_mut().zip(prev).for_each(|(a, b)| *a -= d * b);
                }
                let norm = dot(&v, &v).sqrt();
                if norm > 1e-6 {
                    q[i * dim..][..dim]
                        .iter_mut()
                        .zip(&v)
                        .for_each(|(a, b)| *a = b / norm);
                    break;
                }
            }
        }
    }
}

/// Eigen-decomposition of the symmetric `n x n` matrix `a` (row-major) by
/// cyclic Jacobi rotations: (eigenvalues decreasing, eigenvectors as the
/// columns of an `n x n` row-major matrix in the same order).
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                // `signum(0.0)` is 1: a 45° rotation when the diagonal entries are equal.
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let vals = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vecs = vec![0.0f64; n * n];
    for (new, &old) in order.iter().enumerate() {
        for r in 0..n {
            vecs[r * n + new] = v[r * n + old];
        }
    }
    (vals, vecs)
}

/// A tiny fixed-seed generator for the start block (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    /// A uniform value in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}
