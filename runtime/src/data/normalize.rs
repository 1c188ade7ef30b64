//! Normalisation helpers: per-feature standardisation fitted on a training
//! set and applied to others, and min-max scaling.

use crate::data::dataset::Dataset;
use crate::error::{Error, Result};

/// Per-feature `(x - mean) / std`, fitted on one dataset and applied to any
/// dataset with the same sample length. Features with zero spread keep
/// `std = 1` so they map to 0 instead of NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Mean and (population) standard deviation of each feature of `data`.
    pub fn fit(data: &Dataset) -> Result<Self> {
        let n = data.len();
        if n == 0 {
            return Err(Error::data(
                "standardizer fit data",
                "at least 1 sample",
                "it is empty",
            ));
        }
        let per = data.sample_len();
        let mut mean = vec![0f64; per];
        let mut sq = vec![0f64; per];
        for row in data.features().chunks(per) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += v as f64;
                sq[j] += (v as f64) * (v as f64);
            }
        }
        let mut m32 = Vec::with_capacity(per);
        let mut s32 = Vec::with_capacity(per);
        for j in 0..per {
            let m = mean[j] / n as f64;
            let var = (sq[j] / n as f64 - m * m).max(0.0);
            let s = var.sqrt();
            m32.push(m as f32);
            s32.push(if s > 1e-12 { s as f32 } else { 1.0 });
        }
        Ok(Self {
            mean: m32,
            std: s32,
        })
    }

    /// Standardises `data` in place. Errors when its sample length differs.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        let per = data.sample_len();
        if per != self.mean.len() {
            return Err(Error::data(
                "dataset to standardize",
                format!("{} features per sample (as fitted)", self.mean.len()),
                format!("{per} features per sample"),
            ));
        }
        for row in data.features_mut().chunks_mut(per) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
        Ok(())
    }
}

/// Scales all features of `data` linearly so that the smallest is `lo` and the
/// largest `hi` (all equal → all `lo`). Returns the original `(min, max)`.
pub fn min_max_scale(data: &mut Dataset, lo: f32, hi: f32) -> (f32, f32) {
    let (mn, mx) = data
        .features()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = mx - mn;
    data.map_features(|v| {
        if span > 0.0 {
            lo + (v - mn) / span * (hi - lo)
        } else {
            lo
        }
    });
    (mn, mx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardize_gives_zero_mean_unit_std() {
        let mut d =
            Dataset::with_classes(vec![1., 10., 3., 10., 5., 10.], &[2], vec![0, 1, 0]).unwrap();
        let s = Standardizer::fit(&d).unwrap();
        assert_eq!(s.mean, vec![3.0, 10.0]);
        assert_eq!(s.std[1], 1.0);
        s.apply(&mut d).unwrap();
        let f = d.features();
        assert!((f[0] + 1.2247449).abs() < 1e-5 && f[1] == 0.0 && (f[4] - 1.2247449).abs() < 1e-5);
    }

    #[test]
    fn min_max_maps_to_range() {
        let mut d = Dataset::with_classes(vec![0., 255., 127.5], &[1], vec![0, 0, 0]).unwrap();
        assert_eq!(min_max_scale(&mut d, 0.0, 1.0), (0.0, 255.0));
        assert_eq!(d.features(), &[0.0, 1.0, 0.5]);
    }
}
