//! How `model!`'s composite nodes join tensors: a residual's sum, and a
//! `parallel` node's concatenation along channels, sum or product (with a
//! per-channel gate broadcast over `[C, H, W]`, as in squeeze-and-excitation).
//!
//! All compose dfdx ops, so they run on every device and have autodiff.
//! A tensor used by two branches is passed as itself to one and as
//! [`fork`] (a copy with an empty tape and the same tensor id) to the
//! other: gradients of both uses accumulate into that one id, and the
//! branches' tapes are merged again by the joining op.

use dfdx::shapes::HasShape;
use dfdx::shapes::{Axes2, Axis, Const, Dim, Shape};
use dfdx::tensor::{HasErr, Tape, Tensor, WithEmptyTape};
use dfdx::tensor_ops::{BroadcastTo, ReshapeTo, TryAdd, TryConcatAlong, TryMul};

use crate::backend::Backend;
use crate::elem::Elem;

/// A joined tensor, or the device's error.
pub type Joined<S, E, D, T> = Result<Tensor<S, E, D, T>, <D as HasErr>::Err>;

/// A second use of `x` for another branch: same data and tensor id, empty
/// tape (so a training forward records the branch on a tape of its own).
pub fn fork<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    x: &Tensor<S, E, D, T>,
) -> Tensor<S, E, D, T> {
    x.with_empty_tape()
}

/// `a + b`, element-wise (shapes `S`).
pub fn add<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    a: Tensor<S, E, D, T>,
    b: Tensor<S, E, D, T>,
) -> Joined<S, E, D, T> {
    a.try_add(b)
}

/// `a * b`, element-wise (shapes `S`).
pub fn mul<S: Shape, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    a: Tensor<S, E, D, T>,
    b: Tensor<S, E, D, T>,
) -> Joined<S, E, D, T> {
    a.try_mul(b)
}

/// `a` and `b` (`(B, C1, H, W)`, `(B, C2, H, W)`) concatenated along the
/// channels. The channel dim is a run-time `usize`: dfdx adds const dims
/// only on nightly, so callers convert with
/// [`cross_boundary`](crate::model::cross_boundary) before and after.
pub fn concat_channels<
    B: Dim,
    const H: usize,
    const W: usize,
    E: Elem,
    D: Backend<E>,
    T: Tape<E, D>,
>(
    a: Tensor<(B, usize, Const<H>, Const<W>), E, D, T>,
    b: Tensor<(B, usize, Const<H>, Const<W>), E, D, T>,
) -> Joined<(B, usize, Const<H>, Const<W>), E, D, T> {
    (a, b).try_concat_along(Axis::<1>)
}

/// [`concat_channels`] for `(B, C, L)`.
pub fn concat_channels3<B: Dim, const L: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    a: Tensor<(B, usize, Const<L>), E, D, T>,
    b: Tensor<(B, usize, Const<L>), E, D, T>,
) -> Joined<(B, usize, Const<L>), E, D, T> {
    (a, b).try_concat_along(Axis::<1>)
}

/// [`concat_channels`] for features `(B, F)`.
pub fn concat_features<B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    a: Tensor<(B, usize), E, D, T>,
    b: Tensor<(B, usize), E, D, T>,
) -> Joined<(B, usize), E, D, T> {
    (a, b).try_concat_along(Axis::<1>)
}

/// A per-channel gate `(B, C, 1, 1)` as `(B, C)` (same data).
pub fn squeeze_gate<B: Dim, const C: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>(
    g: Tensor<(B, Const<C>, Const<1>, Const<1>), E, D, T>,
) -> Joined<(B, Const<C>), E, D, T> {
    let batch = g.shape().0;
    g.try_reshape_like(&(batch, Const::<C>))
}

/// A per-channel gate `(B, C)` repeated over `H x W`: `(B, C, H, W)`.
pub fn gate_like<
    B: Dim,
    const C: usize,
    const H: usize,
    const W: usize,
    E: Elem,
    D: Backend<E>,
    T: Tape<E, D>,
>(
    g: Tensor<(B, Const<C>), E, D, T>,
    like: (B, Const<C>, Const<H>, Const<W>),
) -> Joined<(B, Const<C>, Const<H>, Const<W>), E, D, T> {
    g.try_broadcast_like::<_, Axes2<2, 3>>(&like)
}

#[cfg(test)]
mod tests {
    use super::{add, concat_channels, fork, gate_like, mul};
    use crate::model::cross_boundary;
    use dfdx::prelude::*;

    #[test]
    fn a_forked_input_gets_the_gradient_of_both_uses() {
        let dev = Cpu::default();
        let x = dev.tensor([[1.0f32, -2.0], [0.5, 3.0]]);
        let t = x.leaky_trace();
        let twice = fork(&t) * 2.0;
        let y = add(twice, t).unwrap().sum();
        let g = y.backward();
        assert_eq!(g.get(&x).array(), [[3.0; 2]; 2]);
    }

    #[test]
    fn concat_gate_and_mul_values_and_gradients() {
        let dev = Cpu::default();
        let a = dev.tensor([[[[1.0f32]], [[2.0]]]]); // (1, 2, 1, 1)
        let b = dev.tensor([[[[5.0f32]]]]); // (1, 1, 1, 1)
        let ta = a.leaky_trace();
        let tb = b.retaped::<OwnedTape<f32, Cpu>>();
        let batch = Const::<1>;
        let ca = cross_boundary(ta, (batch, 2usize, Const::<1>, Const::<1>)).unwrap();
        let cb = cross_boundary(tb, (batch, 1usize, Const::<1>, Const::<1>)).unwrap();
        let c = concat_channels(ca, cb).unwrap();
        let c = cross_boundary(c, (batch, Const::<3>, Const::<1>, Const::<1>)).unwrap();
        assert_eq!(c.array(), [[[[1.0]], [[2.0]], [[5.0]]]]);
        let w = dev.tensor([[[[1.0f32]], [[10.0]], [[100.0]]]]);
        let g = (c * w).sum().backward();
        assert_eq!(g.get(&a).array(), [[[[1.0]], [[10.0]]]]);
        assert_eq!(g.get(&b).array(), [[[[100.0]]]]);

        let x = dev.tensor([[[[1.0f32, 2.0]], [[3.0, 4.0]]]]); // (1, 2, 1, 2)
        let gate = dev.tensor([[10.0f32, 0.5]]);
        let full = gate_like(
            gate.leaky_trace(),
            (batch, Const::<2>, Const::<1>, Const::<2>),
        )
        .unwrap();
        let y = mul(x.clone().retaped::<OwnedTape<f32, Cpu>>(), full).unwrap();
        assert_eq!(y.array(), [[[[10.0, 20.0]], [[1.5, 2.0]]]]);
        let g = y.sum().backward();
        assert_eq!(g.get(&gate).array(), [[3.0, 7.0]]);
    }
}
