//! k-nearest-neighbour classification of codes: how well a code (an
//! autoencoder's, PCA's) separates the classes, as the accuracy of a
//! brute-force majority vote among the `k` nearest reference codes.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Predicts a class for each query: the majority vote of its `k` nearest
/// reference points (squared Euclidean distance, brute force).
///
/// Shapes: `reference` is `[n_ref, dim]` row-major with `labels` `[n_ref]`;
/// `queries` is `[n_query, dim]` row-major; the result is `[n_query]`.
///
/// Neighbours are ranked by distance, equal distances by reference index
/// (lower first). **Tie rule**: when several classes share the most votes,
/// the one whose best-ranked neighbour comes first wins (so the vote falls
/// back on the nearest of the tied classes; with `k = 1` this is plain
/// nearest-neighbour). `k` above `n_ref` uses all reference points.
///
/// Errors when `dim` or `k` is 0, a slice's length does not fit `dim`,
/// `labels` does not have one label per reference point, there are no
/// reference points, or a value is not finite.
pub fn knn_predict(
    reference: &[f32],
    labels: &[usize],
    queries: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<usize>> {
    if dim == 0 {
        return Err(Error::config("k-NN dim", dim, "must be positive"));
    }
    if k == 0 {
        return Err(Error::config("k-NN k", k, "must be positive"));
    }
    check_rows("k-NN reference", reference, dim)?;
    check_rows("k-NN queries", queries, dim)?;
    let n_ref = reference.len() / dim;
    if n_ref == 0 {
        return Err(Error::data(
            "k-NN reference",
            "at least 1 point",
            "0 points",
        ));
    }
    if labels.len() != n_ref {
        return Err(Error::data(
            "k-NN reference labels",
            format!("{n_ref} labels (one per reference point)"),
            format!("{} labels", labels.len()),
        ));
    }
    let k = k.min(n_ref);
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    Ok(queries
        .par_chunks(dim)
        .map(|q| vote(&nearest(reference, dim, q, k), labels, classes))
        .collect())
}

/// The fraction of `queries` whose [`knn_predict`] class equals its label
/// in `query_labels` (`[n_query]`), in `[0, 1]`.
///
/// Errors as [`knn_predict`], and when `query_labels` does not have one
/// label per query or there are no queries.
pub fn knn_accuracy(
    reference: &[f32],
    labels: &[usize],
    queries: &[f32],
    query_labels: &[usize],
    dim: usize,
    k: usize,
) -> Result<f64> {
    let predicted = knn_predict(reference, labels, queries, dim, k)?;
    if predicted.is_empty() {
        return Err(Error::data("k-NN queries", "at least 1 point", "0 points"));
    }
    if query_labels.len() != predicted.len() {
        return Err(Error::data(
            "k-NN query labels",
            format!("{} labels (one per query)", predicted.len()),
            format!("{} labels", query_labels.len()),
        ));
    }
    let right = predicted
        .iter()
        .zip(query_labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(right as f64 / predicted.len() as f64)
}

fn check_rows(input: &str, values: &[f32], dim: usize) -> Result<()> {
    if values.len() % dim != 0 {
        return Err(Error::data(
            input,
            format!("a multiple of dim = {dim} values"),
            format!("{} values", values.len()),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            format!("{input} point {} value {}", i / dim, i % dim),
            "a finite value",
            format!("{}", values[i]),
        ));
    }
    Ok(())
}

/// Indices of the `k` reference points nearest to `q`, nearest first (equal
/// distances: lower index first).
fn nearest(reference: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<usize> {
    let mut dist: Vec<(f64, usize)> = reference
        .chunks(dim)
        .enumerate()
        .map(|(i, r)| {
            let d: f64 = r
                .iter()
                .zip(q)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            (d, i)
        })
        .collect();
    let by = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if k < dist.len() {
        dist.select_nth_unstable_by(k - 1, by);
        dist.truncate(k);
    }
    dist.sort_by(by);
    dist.into_iter().map(|(_, i)| i).collect()
}

/// Majority class among the ranked neighbours; ties go to the class whose
/// best-ranked neighbour comes first.
fn vote(neighbours: &[usize], labels: &[usize], classes: usize) -> usize {
    let mut counts = vec![0usize; classes];
    for &i in neighbours {
        counts[labels[i]] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(0);
    neighbours
        .iter()
        .map(|&i| labels[i])
        .find(|&c| counts[c] == most)
        .unwrap_or(0)
}
