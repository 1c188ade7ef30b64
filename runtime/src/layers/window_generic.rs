//! The window gather's plan ([`WindowPlan`]) and its device-generic path:
//! the default that [`Backend::window_max`](crate::backend::Backend::window_max)
//! and [`Backend::window_sum`](crate::backend::Backend::window_sum) run on
//! every device without a kernel of its own (see [`super::window`]).
//!
//! The generic path composes dfdx ops (append a fill column, `gather` with
//! the index table broadcast over planes, reshape, `max` / `mul` + `sum`), so
//! it runs on every device and dfdx differentiates it.

use dfdx::prelude::*;

use crate::elem::{cast, Elem};

/// Which input position (or the fill value) each output tap reads, and with
/// what weight. Positions are row-major within one `(in_h, in_w)` plane;
/// the value `in_h * in_w` ([`WindowPlan::fill`]) means "padding".
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    /// Input positions read per output position.
    pub taps: usize,
    /// `out_h * out_w * taps` entries, each `< in_h * in_w` or `== fill()`.
    pub index: Vec<usize>,
    /// Per-tap weights for `window_sum` (same length as `index`); `None`
    /// means all ones. Ignored by `window_max`.
    pub weights: Option<Vec<f64>>,
}

impl WindowPlan {
    /// Positions in one input plane.
    pub fn in_plane(&self) -> usize {
        self.in_h * self.in_w
    }
    /// Positions in one output plane.
    pub fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }
    /// The index that stands for padding.
    pub fn fill(&self) -> usize {
        self.in_plane()
    }
    /// Whether any tap reads padding.
    pub fn uses_fill(&self) -> bool {
        let fill = self.fill();
        self.index.contains(&fill)
    }

    /// Number of planes (batch x channels) in a tensor of `numel` elements,
    /// debug-checking that `out_numel` is the matching output size (callers
    /// build the plan and the output shape from the same sizes).
    pub(crate) fn planes(&self, numel: usize, out_numel: usize) -> usize {
        let n = numel.checked_div(self.in_plane()).unwrap_or(0);
        debug_assert!(
            self.in_plane() > 0 && n * self.in_plane() == numel,
            "window plan for {}x{} planes applied to a tensor of {numel} elements",
            self.in_h,
            self.in_w
        );
        debug_assert_eq!(
            n * self.out_plane(),
            out_numel,
            "window plan output {}x{} does not fit the requested output shape",
            self.out_h,
            self.out_w
        );
        debug_assert_eq!(self.index.len(), self.out_plane() * self.taps);
        n
    }
}

/// `window_max` composed from dfdx ops only (every device); shapes as for
/// [`super::window::window_max`].
pub fn window_max_generic<S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    let g = gather_taps(x, plan, n, E::neg_infinity())?;
    if plan.taps == 1 {
        return g.try_reshape_like(&out_shape);
    }
    g.try_reshape_like(&(n, plan.out_plane(), plan.taps))?
        .try_max::<(usize, usize), Axis<2>>()?
        .try_reshape_like(&out_shape)
}

/// `window_sum` composed from dfdx ops only (every device); shapes as for
/// [`super::window::window_sum`].
pub fn window_sum_generic<S: Shape, S2: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    out_shape: S2,
) -> Result<Tensor<S2, E, D, T>, D::Err> {
    let n = plan.planes(x.shape().num_elements(), out_shape.num_elements());
    let dev = x.device().clone();
    let g = gather_taps(x, plan, n, E::zero())?;
    let (p, t) = (plan.out_plane(), plan.taps);
    let g = match &plan.weights {
        None if t == 1 => return g.try_reshape_like(&out_shape),
        None => g.try_reshape_like(&(n, p, t))?,
        Some(w) => {
            let w: Vec<E> = w.iter().map(|&v| cast::<E>(v)).collect();
            let w = dev
                .try_tensor_from_vec(w, (p, t))?
                .try_broadcast_like::<_, Axis<0>>(&(n, p, t))?;
            g.try_reshape_like(&(n, p, t))?.try_mul(w)?
        }
    };
    g.try_sum::<(usize, usize), Axis<2>>()?
        .try_reshape_like(&out_shape)
}

/// `(planes, positions)` with run-time sizes.
type Planes<E, D, T> = Tensor<(usize, usize), E, D, T>;

/// `(n, out_plane * taps)`: every tap's input value, `fill` for padding.
fn gather_taps<S: Shape, E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
    plan: &WindowPlan,
    n: usize,
    fill: E,
) -> Result<Planes<E, D, T>, D::Err> {
    let dev = x.device().clone();
    let m = plan.in_plane();
    let x = x.try_reshape_like(&(n, m))?;
    let x = if plan.uses_fill() {
        let col = dev.try_tensor_from_vec(vec![fill; n], (n, 1usize))?;
        (x, col).try_concat_along(Axis::<1>)?
    } else {
        x
    };
    let z = plan.index.len();
    let idx = dev
        .try_tensor_from_vec(plan.index.clone(), (z,))?
        .try_broadcast_like::<_, Axis<0>>(&(n, z))?;
    x.try_gather(idx)
}
