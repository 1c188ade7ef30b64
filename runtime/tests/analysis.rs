//! PCA and k-NN accuracy (`sxima_runtime::analysis`): PCA recovers the axes
//! and variances of synthetic data built with a known covariance (random
//! rotations, several dimensions), its projections are centred and its
//! axes orthonormal; k-NN votes are checked on hand-made cases, ties
//! included, and bad inputs are `Error` values.

use sxima_runtime::analysis::{knn_accuracy, knn_predict, Pca};
use sxima_runtime::Error;

/// A small deterministic generator (SplitMix64) with Gaussian draws.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram–Schmidt on `rows` vectors of length `len` (row-major), in place.
fn orthonormal_rows(m: &mut [f64], len: usize) {
    let rows = m.len() / len;
    for i in 0..rows {
        for _ in 0..2 {
            for j in 0..i {
                let (done, rest) = m.split_at_mut(i * len);
                let d = dot(&done[j * len..][..len], &rest[..len]);
                for t in 0..len {
                    rest[t] -= d * done[j * len + t];
                }
            }
        }
        let n = dot(&m[i * len..][..len], &m[i * len..][..len]).sqrt();
        m[i * len..][..len].iter_mut().for_each(|v| *v /= n);
    }
}

/// `n` samples of `dim` values whose sample covariance is exactly
/// `Rᵀ diag(var) R` (rows of `R`, returned, are a random orthonormal basis)
/// and whose mean is `mean`: the columns of a centred Gaussian matrix are
/// orthonormalised, so they are uncorrelated with unit variance.
fn synthetic(n: usize, var: &[f64], mean: &[f64], seed: u64) -> (Vec<f32>, Vec<f64>) {
    let dim = var.len();
    let mut rng = Rng(seed);
    let mut rot: Vec<f64> = (0..dim * dim).map(|_| rng.normal()).collect();
    orthonormal_rows(&mut rot, dim);
    // dim columns of n values, stored as dim rows; centred, then orthonormal.
    let mut g: Vec<f64> = (0..dim * n).map(|_| rng.normal()).collect();
    for col in g.chunks_mut(n) {
        let m = col.iter().sum::<f64>() / n as f64;
        col.iter_mut().for_each(|v| *v -= m);
    }
    orthonormal_rows(&mut g, n);
    let s = ((n - 1) as f64).sqrt();
    let mut data = vec![0.0f32; n * dim];
    for i in 0..n {
        for t in 0..dim {
            let mut x = mean[t];
            for a in 0..dim {
                x += s * g[a * n + i] * var[a].sqrt() * rot[a * dim + t];
            }
            data[i * dim + t] = x as f32;
        }
    }
    (data, rot)
}

#[test]
fn pca_recovers_axes_and_variances_of_rotated_data() {
    for (case, &(dim, k)) in [(2usize, 1usize), (3, 2), (5, 3), (10, 4), (20, 6)]
        .iter()
        .enumerate()
    {
        let seed = 1 + case as u64;
        let mut rng = Rng(100 + seed);
        // Well-separated, decreasing variances (geometric), a random mean.
        let var: Vec<f64> = (0..dim).map(|i| 4.0 * 0.6f64.powi(i as i32)).collect();
        let mean: Vec<f64> = (0..dim).map(|_| 3.0 * rng.normal()).collect();
        let n = 400;
        let (data, rot) = synthetic(n, &var, &mean, seed);
        let pca = Pca::fit(&data, dim, k).unwrap();
        assert_eq!((pca.dim(), pca.k()), (dim, k));
        for (j, (&got, &want)) in pca.variances().iter().zip(&var).enumerate() {
            assert!(
                (got - want).abs() <= 1e-4 * want,
                "dim {dim}: variance {j} is {got}, expected {want}"
            );
        }
        for (j, axis) in pca.components().chunks(dim).enumerate() {
            let cos = dot(axis, &rot[j * dim..][..dim]).abs();
            assert!(
                (cos - 1.0).abs() < 1e-5,
                "dim {dim}: axis {j} has |cos| {cos} with the true axis"
            );
        }
        for (m, want) in pca.mean().iter().zip(&mean) {
            assert!(
                (m - want).abs() < 1e-4,
                "dim {dim}: mean {m}, expected {want}"
            );
        }
    }
}

#[test]
fn pca_components_are_orthonormal_and_projections_centred() {
    let (dim, k, n) = (12, 5, 300);
    let mut rng = Rng(7);
    // Anisotropic data that is not built with a known covariance.
    let scales: Vec<f64> = (0..dim).map(|i| 1.0 + i as f64).collect();
    let data: Vec<f32> = (0..n * dim)
        .map(|i| (scales[i % dim] * rng.normal() + (i % dim) as f64) as f32)
        .collect();
    let pca = Pca::fit(&data, dim, k).unwrap();
    let c = pca.components();
    for i in 0..k {
        for j in 0..k {
            let d = dot(&c[i * dim..][..dim], &c[j * dim..][..dim]);
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((d - want).abs() < 1e-9, "components {i}.{j} = {d}");
        }
    }
    assert!(pca.variances().windows(2).all(|w| w[0] >= w[1]));
    let codes = pca.transform(&data).unwrap();
    assert_eq!(codes.len(), n * k);
    for j in 0..k {
        let col: Vec<f64> = codes.chunks(k).map(|z| z[j] as f64).collect();
        let m = col.iter().sum::<f64>() / n as f64;
        let v = col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(m.abs() < 1e-4, "projection {j} has mean {m}");
        let want = pca.variances()[j];
        assert!(
            (v - want).abs() < 1e-4 * want,
            "projection {j} has variance {v}, PCA says {want}"
        );
    }
    // With every axis kept, inverse_transform undoes transform.
    let full = Pca::fit(&data, dim, dim).unwrap();
    let back = full
        .inverse_transform(&full.transform(&data).unwrap())
        .unwrap();
    let worst = back
        .iter()
        .zip(&data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "round trip off by {worst}");
}

#[test]
fn pca_bad_inputs_are_errors() {
    let data = vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 7.0];
    assert!(matches!(
        Pca::fit(&data, 4, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        Pca::fit(&data, 0, 1),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        Pca::fit(&data, 2, 3),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        Pca::fit(&data, 2, 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        Pca::fit(&data[..2], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    let mut nan = data.clone();
    nan[3] = f32::NAN;
    let e = Pca::fit(&nan, 2, 1).unwrap_err().to_string();
    assert!(e.contains("sample 1 feature 1"), "{e}");
    let pca = Pca::fit(&data, 2, 1).unwrap();
    assert!(matches!(
        pca.transform(&[1.0]),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(pca.inverse_transform(&[]).map(|v| v.len()), Ok(0)));
}

#[test]
fn knn_majority_vote_by_hand() {
    // 1-D reference points: class 0 around 0, class 1 around 10.
    let reference = [0.0f32, 1.0, 2.0, 10.0, 11.0, 12.0];
    let labels = [0usize, 0, 0, 1, 1, 1];
    let queries = [0.5f32, 11.5, 5.2, 7.0];
    // k = 3: the three nearest of 5.2 are 2, 1 (class 0) and 10 (class 1);
    // those of 7.0 are 10, 11 (class 1) and 2.
    assert_eq!(
        knn_predict(&reference, &labels, &queries, 1, 3).unwrap(),
        vec![0, 1, 0, 1]
    );
    let acc = knn_accuracy(&reference, &labels, &queries, &[0, 1, 1, 1], 1, 3).unwrap();
    assert!((acc - 0.75).abs() < 1e-12);
    // 2-D: the nearest neighbour decides with k = 1; k above the reference
    // size votes over everything (majority class 2 here).
    let reference = [0.0f32, 0.0, 5.0, 5.0, 5.0, 6.0, 6.0, 5.0];
    let labels = [1usize, 2, 2, 2];
    assert_eq!(
        knn_predict(&reference, &labels, &[0.5, 0.5], 2, 1).unwrap(),
        vec![1]
    );
    assert_eq!(
        knn_predict(&reference, &labels, &[0.5, 0.5], 2, 10).unwrap(),
        vec![2]
    );
}

#[test]
fn knn_ties_go_to_the_class_with_the_nearest_neighbour() {
    // Two votes each for classes 3 and 5 among the 4 nearest: class 5 owns
    // the nearest point of 0.2 and of 2.9, so 5 wins; class 3 owns the
    // nearest point of 1.4, so 3 wins.
    let reference = [0.0f32, 1.0, 2.0, 3.0];
    let labels = [5usize, 3, 3, 5];
    assert_eq!(
        knn_predict(&reference, &labels, &[0.2], 1, 4).unwrap(),
        vec![5]
    );
    assert_eq!(
        knn_predict(&reference, &labels, &[2.9], 1, 4).unwrap(),
        vec![5]
    );
    assert_eq!(
        knn_predict(&reference, &labels, &[1.4], 1, 4).unwrap(),
        vec![3]
    );
    // Equal distances: the lower reference index ranks first (k = 1 at the
    // midpoint of points 0 and 1 of different classes).
    let reference = [0.0f32, 2.0];
    assert_eq!(
        knn_predict(&reference, &[4, 7], &[1.0], 1, 1).unwrap(),
        vec![4]
    );
    assert_eq!(
        knn_predict(&reference, &[7, 4], &[1.0], 1, 1).unwrap(),
        vec![7]
    );
}

#[test]
fn knn_bad_inputs_are_errors() {
    let r = [0.0f32, 1.0, 2.0, 3.0];
    assert!(matches!(
        knn_predict(&r, &[0, 1], &[0.0, 0.0], 2, 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        knn_predict(&r, &[0, 1], &[0.0, 0.0], 0, 1),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        knn_predict(&r, &[0, 1], &[0.0], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        knn_predict(&r, &[0], &[0.0, 0.0], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        knn_predict(&[], &[], &[0.0, 0.0], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        knn_predict(&r, &[0, 1], &[f32::NAN, 0.0], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        knn_accuracy(&r, &[0, 1], &[], &[], 2, 1),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        knn_accuracy(&r, &[0, 1], &[0.0, 0.0], &[0, 1], 2, 1),
        Err(Error::DataFormat { .. })
    ));
}
