//! `Flatten<N>`: `(B, d1, .., dk) -> (B, N)` with `N = d1 * .. * dk`.
//!
//! Rust's stable const generics cannot compute `N` from the input dims, so the
//! macro writes it; the layer asserts `N == d1 * .. * dk` at compile time
//! (post-monomorphisation), so a hand-written wrong `N` fails to build.

use dfdx::nn::{Module, NonMutableModule};
use dfdx::prelude::*;

use crate::backend::Backend;
use crate::elem::Elem;

/// Flattens every axis but the batch axis into one of size `N`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flatten<const N: usize>;

impl<const N: usize> Flatten<N> {
    pub const fn new() -> Self {
        Self
    }
}

impl<const N: usize> NonMutableModule for Flatten<N> {}

macro_rules! flatten_impl {
    ($($d:ident),+) => {
        impl<B: Dim, $(const $d: usize,)+ const N: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>
            Module<Tensor<(B, $(Const<$d>,)+), E, D, T>> for Flatten<N>
        {
            type Output = Tensor<(B, Const<N>), E, D, T>;
            type Error = D::Err;

            fn try_forward(&self, x: Tensor<(B, $(Const<$d>,)+), E, D, T>) -> Result<Self::Output, D::Err> {
                const { assert!(1 $(* $d)+ == N, "Flatten<N>: N must equal the product of the input dims") };
                let b = x.shape().0;
                x.try_reshape_like(&(b, Const::<N>))
            }
        }
    };
}

flatten_impl!(A1);
flatten_impl!(A1, A2);
flatten_impl!(A1, A2, A3);
flatten_impl!(A1, A2, A3, A4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_chw_in_row_major_order() {
        let dev: Cpu = Default::default();
        let x: Tensor<(usize, Const<2>, Const<2>, Const<3>), f32, _> = dev.tensor_from_vec(
            (0..24).map(|v| v as f32).collect(),
            (2, Const, Const, Const),
        );
        let y: Tensor<(usize, Const<12>), f32, _> = Flatten::<12>.forward(x);
        assert_eq!(y.shape().0, 2);
        assert_eq!(y.as_vec(), (0..24).map(|v| v as f32).collect::<Vec<_>>());
    }
}
