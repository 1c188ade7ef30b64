//! `LocalResponseNorm`: AlexNet's / ZFNet's normalisation across channels,
//! with PyTorch's formula. Shape in = shape out: `(B, C, H, W)`, `(B, C, L)`
//! or `(B, C)`.
//!
//! Composed from dfdx ops (square, roll, broadcast, mul, add, pow), so
//! autodiff and every device come for free; there is no CPU fast path.

use dfdx::nn::{Module, ModuleVisitor, NonMutableModule, TensorCollection};
use dfdx::prelude::{Axes2, Axis, Dim, Dtype, HasShape, Tape, Tensor};
use dfdx::tensor_ops::{BroadcastTo, Device, ReshapeTo, Roll, TryAdd, TryMul};

use crate::elem::Elem;

/// Local response normalisation over channels (PyTorch
/// `nn.LocalResponseNorm(size, alpha, beta, k)`):
///
/// `b_c = a_c / (k + alpha / n * sum_{c'} a_{c'}^2)^beta`, `n = size`,
///
/// where `c'` runs over the window `c - n/2 ..= c + (n-1)/2` of channels
/// (integer division: PyTorch pads `n/2` zero channels before and `(n-1)/2`
/// after), channels beyond the edges counting as zero. Note that `alpha` is
/// divided by the window size, as in PyTorch and Caffe.
///
/// Shapes: `(B, C, H, W) -> (B, C, H, W)` (the window runs over `C` at each
/// pixel), `(B, C, L) -> (B, C, L)` (at each position, as PyTorch's 3-d
/// input) and `(B, C) -> (B, C)`, any batch `B` and any dims. It has no
/// parameters, and inference and training compute the same thing.
///
/// ```
/// use sxima_runtime::dfdx::nn::Module;
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::LocalResponseNorm;
///
/// let dev = Cpu::default();
/// let lrn = LocalResponseNorm::new(5, 1e-4, 0.75, 2.0); // AlexNet's settings
/// let x: Tensor<(usize, Const<96>, Const<55>, Const<55>), f32, _> =
///     dev.ones_like(&(2, Const, Const, Const));
/// let y = lrn.forward(x);
/// assert_eq!(y.shape().0, 2);
/// // Away from the edges, 5 channels of ones: 1 / (2 + 1e-4 / 5 * 5)^0.75.
/// let expected = 1.0 / (2.0f32 + 1e-4).powf(0.75);
/// let middle = y.as_vec()[48 * 55 * 55]; // sample 0, channel 48, pixel (0, 0)
/// assert!((middle - expected).abs() < 1e-6);
/// ```
///
/// A visitor cannot see these hyper-parameters (there are no tensors), so
/// `BuildModule::build` or `to_device` on the layer alone give
/// [`LocalResponseNorm::default`]; a `model!` constructs it with
/// [`LocalResponseNorm::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalResponseNorm {
    /// Number of channels in the window, `n` (at least 1; a window of 0
    /// channels leaves only `k`).
    pub size: usize,
    /// Scale of the sum of squares (divided by `size`).
    pub alpha: f64,
    /// Exponent of the denominator.
    pub beta: f64,
    /// Additive constant of the denominator.
    pub k: f64,
}

impl LocalResponseNorm {
    /// The layer with window `size`, `alpha`, `beta` and `k` (PyTorch's order).
    pub const fn new(size: usize, alpha: f64, beta: f64, k: f64) -> Self {
        Self {
            size,
            alpha,
            beta,
            k,
        }
    }

    /// The normalisation on `(batch, channels, pixels)`.
    fn normalise<E: Elem, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Channels<E, D, T>,
    ) -> Result<Channels<E, D, T>, D::Err> {
        let (b, c, p) = *x.shape();
        let dev = x.device().clone();
        // Window of channel `ch`: `ch + d` for `d` in `-(n/2) ..= (n-1)/2`
        // (PyTorch pads n/2 zero channels before, (n-1)/2 after). Offsets
        // that reach no channel contribute nothing and are skipped.
        let (before, after) = (self.size / 2, self.size.saturating_sub(1) / 2);
        let offsets: Vec<isize> = (-(before.min(c) as isize)..=after.min(c) as isize)
            .filter(|&d| d != 0 && d.unsigned_abs() < c)
            .collect();
        let sq = x.retaped::<T>().try_square()?;
        // Each shifted term rolls a copy of `sq` and zeroes the channels that
        // wrapped around. (Not `slice`: dfdx 0.13's slice backward overwrites
        // the input's gradient instead of adding to it, so overlapping slices
        // of one tensor get wrong gradients; `roll`'s backward adds.)
        let copies: Vec<_> = offsets.iter().map(|_| sq.retaped::<T>()).collect();
        let mut sum = sq;
        for (&d, copy) in offsets.iter().zip(copies) {
            // out[ch] = sq[ch + d]: roll right by `c - d (mod c)`.
            let amount = (c as isize - d).rem_euclid(c as isize) as usize;
            let mask: Vec<E> = (0..c as isize)
                .map(|ch| {
                    if (0..c as isize).contains(&(ch + d)) {
                        E::one()
                    } else {
                        E::zero()
                    }
                })
                .collect();
            let mask = dev
                .try_tensor_from_vec(mask, (c,))?
                .try_broadcast_like::<_, Axes2<0, 2>>(&(b, c, p))?;
            sum = sum.try_add(copy.try_roll::<Axis<1>>(amount)?.try_mul(mask)?)?;
        }
        let scale = if self.size == 0 {
            0.0
        } else {
            self.alpha / self.size as f64
        };
        let denom = sum
            .try_mul(elem::<E>(scale))?
            .try_add(elem::<E>(self.k))?
            .try_powf(-self.beta)?;
        x.try_mul(denom)
    }
}

impl Default for LocalResponseNorm {
    /// AlexNet's settings: `size = 5`, `alpha = 1e-4`, `beta = 0.75`, `k = 2`.
    fn default() -> Self {
        Self::new(5, 1e-4, 0.75, 2.0)
    }
}

/// `(batch, channels, pixels)`, the layout the normalisation works on.
type Channels<E, D, T> = Tensor<(usize, usize, usize), E, D, T>;

/// `v` as the element type (exact for `f64`, rounded for `f32`).
fn elem<E: Elem>(v: f64) -> E {
    E::from(v).unwrap_or_else(E::nan)
}

impl NonMutableModule for LocalResponseNorm {}

impl<E: Dtype, D: Device<E>> TensorCollection<E, D> for LocalResponseNorm {
    type To<E2: Dtype, D2: Device<E2>> = LocalResponseNorm;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields((), |_| LocalResponseNorm::default())
    }
}

impl<B: Dim, C: Dim, H: Dim, W: Dim, E: Elem, D: Device<E>, T: Tape<E, D>>
    Module<Tensor<(B, C, H, W), E, D, T>> for LocalResponseNorm
{
    type Output = Tensor<(B, C, H, W), E, D, T>;
    type Error = D::Err;

    /// `(B, C, H, W) -> (B, C, H, W)`, normalised over `C` at each pixel.
    fn try_forward(&self, x: Tensor<(B, C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        let shape = *x.shape();
        let (b, c, h, w) = (
            shape.0.size(),
            shape.1.size(),
            shape.2.size(),
            shape.3.size(),
        );
        let y = self.normalise(x.try_reshape_like(&(b, c, h * w))?)?;
        y.try_reshape_like(&shape)
    }
}

impl<B: Dim, C: Dim, L: Dim, E: Elem, D: Device<E>, T: Tape<E, D>>
    Module<Tensor<(B, C, L), E, D, T>> for LocalResponseNorm
{
    type Output = Tensor<(B, C, L), E, D, T>;
    type Error = D::Err;

    /// `(B, C, L) -> (B, C, L)`, normalised over `C` at each position.
    fn try_forward(&self, x: Tensor<(B, C, L), E, D, T>) -> Result<Self::Output, D::Err> {
        let shape = *x.shape();
        let dims = (shape.0.size(), shape.1.size(), shape.2.size());
        let y = self.normalise(x.try_reshape_like(&dims)?)?;
        y.try_reshape_like(&shape)
    }
}

impl<B: Dim, C: Dim, E: Elem, D: Device<E>, T: Tape<E, D>> Module<Tensor<(B, C), E, D, T>>
    for LocalResponseNorm
{
    type Output = Tensor<(B, C), E, D, T>;
    type Error = D::Err;

    /// `(B, C) -> (B, C)`, normalised over `C`.
    fn try_forward(&self, x: Tensor<(B, C), E, D, T>) -> Result<Self::Output, D::Err> {
        let shape = *x.shape();
        let y = self.normalise(x.try_reshape_like(&(shape.0.size(), shape.1.size(), 1))?)?;
        y.try_reshape_like(&shape)
    }
}
