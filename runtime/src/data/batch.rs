//! Mini-batch iteration over a [`Dataset`]: batch size 1 is SGD, the full
//! dataset is batch gradient descent; the last partial batch is kept.
//!
//! Shuffling uses a small self-contained PRNG (SplitMix64 + Fisher-Yates) so
//! that an order depends only on `(seed, epoch)`, never on a crate version:
//! a run resumed at epoch `k` sees the same order as an uninterrupted one.

use crate::data::dataset::{Dataset, Targets};
use crate::error::{Error, Result};

/// SplitMix64: tiny, fast, and good enough to shuffle sample indices.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0), by rejection so there is no modulo bias.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// The sample order of epoch `epoch` (0-based) for `seed`: a permutation of
/// `0..n` that depends only on `(n, seed, epoch)`.
pub fn permutation(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        idx.swap(i, j);
    }
    idx
}

/// One mini-batch, gathered into contiguous buffers ready for a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `len * sample_len` feature values, sample-major.
    pub features: Vec<f32>,
    /// The batch's targets, in the same order.
    pub targets: Targets,
    /// Dataset indices of the samples.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }
    /// True for an empty batch (never yielded by [`Batches`]).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Iterator over the mini-batches of one epoch.
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

impl<'a> Batches<'a> {
    /// Batches of `batch_size` samples in dataset order, or shuffled by
    /// [`permutation`]`(len, seed, epoch)` when `shuffle` is `Some((seed, epoch))`.
    pub fn new(
        data: &'a Dataset,
        batch_size: usize,
        shuffle: Option<(u64, usize)>,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::config(
                "batch size",
                batch_size,
                "must be at least 1",
            ));
        }
        let order = match shuffle {
            Some((seed, epoch)) => permutation(data.len(), seed, epoch),
            None => (0..data.len()).collect(),
        };
        Ok(Self {
            data,
            order,
            batch_size,
            pos: 0,
        })
    }

    /// Number of batches in the epoch (`ceil(len / batch_size)`).
    pub fn num_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let indices = self.order[self.pos..end].to_vec();
        self.pos = end;
        let per = self.data.sample_len();
        let all = self.data.features();
        let mut features = Vec::with_capacity(indices.len() * per);
        for &i in &indices {
            features.extend_from_slice(&all[i * per..(i + 1) * per]);
        }
        Some(Batch {
            features,
            targets: self.data.targets().gather(&indices),
            indices,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

impl Dataset {
    /// Mini-batches of `batch_size`; see [`Batches::new`].
    pub fn batches(&self, batch_size: usize, shuffle: Option<(u64, usize)>) -> Result<Batches<'_>> {
        Batches::new(self, batch_size, shuffle)
    }
}
