//! `Dense` and `DenseNoBias`: fully connected layers, `y = x W^T + b`
//! (PyTorch `nn.Linear`), on any dfdx device.
//!
//! `Dense<I, O>` maps `[I] -> [O]`, `(B, I) -> (B, O)` and
//! `(B, T, I) -> (B, T, O)` (every step of a sequence), with `W: [O, I]`
//! initialised like PyTorch (`U(-1/sqrt(I), 1/sqrt(I))`). Same fields,
//! parameter names, initialisation (in the same RNG order) and maths as
//! dfdx's `Linear` / `UnbiasedLinear`, which these replace: checkpoints and
//! seeded runs are unchanged. The product runs through
//! [`Backend::dense_forward`] (a CPU kernel on `Cpu`, dfdx ops elsewhere);
//! every input is viewed as `[rows, I]` (free for a contiguous tensor).

use dfdx::nn::{Module, ModuleVisitor, NonMutableModule, TensorCollection, TensorOptions};
use dfdx::prelude::*;
use rand_distr::Uniform;

use super::dense_generic::Rows;
use crate::backend::Backend;
use crate::elem::{cast, Elem};

/// Dense layer with bias. Parameters: `weight [O, I]`, `bias [O]`.
///
/// `Module` is inference and training alike (`ModuleMut` comes from
/// `NonMutableModule`); inputs `[I]`, `(B, I)`, `(B, T, I)`, any tape.
///
/// ```
/// use sxima_runtime::dfdx::nn::{BuildModule, Module};
/// use sxima_runtime::dfdx::prelude::*;
/// use sxima_runtime::layers::Dense;
///
/// let dev = Cpu::default();
/// let fc = Dense::<784, 10, f32, Cpu>::build(&dev);
/// let x: Tensor<(usize, Const<784>), f32, _> = dev.sample_normal_like(&(8, Const));
/// let y = fc.forward(x);
/// assert_eq!(y.shape().0, 8); // Tensor<(usize, Const<10>), ..>
/// ```
#[derive(Debug, Clone)]
pub struct Dense<const I: usize, const O: usize, E: Dtype, D: Storage<E>> {
    /// `[O, I]`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// `[O]`.
    pub bias: Tensor<Rank1<O>, E, D>,
}

/// Dense layer without bias (`Dense(n, bias = false)`). Parameter:
/// `weight [O, I]`; same inputs and outputs as [`Dense`].
#[derive(Debug, Clone)]
pub struct DenseNoBias<const I: usize, const O: usize, E: Dtype, D: Storage<E>> {
    /// `[O, I]`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
}

/// The init option of every dense parameter: `U(-1/sqrt(I), 1/sqrt(I))`.
fn uniform_init<const I: usize, S: ConstShape, E: Elem, D: Device<E>>() -> TensorOptions<S, E, D> {
    TensorOptions::reset_with(|t| {
        let b: E = E::one() / cast::<E>(I as f64).sqrt();
        t.try_fill_with_distr(Uniform::new(-b, b))
    })
}

impl<const I: usize, const O: usize, E: Elem, D: Device<E>> TensorCollection<E, D>
    for Dense<I, O, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Dense<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        // Weight first, then bias: the RNG order of dfdx's `Linear`.
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    uniform_init::<I, _, _, _>(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    uniform_init::<I, _, _, _>(),
                ),
            ),
            |(weight, bias)| Dense { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, E: Elem, D: Device<E>> TensorCollection<E, D>
    for DenseNoBias<I, O, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = DenseNoBias<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                uniform_init::<I, _, _, _>(),
            ),
            |weight| DenseNoBias { weight },
        )
    }
}

impl<const I: usize, const O: usize, E: Elem, D: Backend<E>> Dense<I, O, E, D> {
    /// `x [rows, I]` → `[rows, O]`, through the device's dense kernel.
    fn rows<T: Tape<E, D>>(&self, x: Rows<E, D, T>) -> Result<Rows<E, D, T>, D::Err> {
        let w = self.weight.retaped::<T>().try_reshape_like(&(O, I))?;
        let b = self.bias.retaped::<T>().try_reshape_like(&(O,))?;
        D::dense_forward(x, w, Some(b))
    }
}

impl<const I: usize, const O: usize, E: Elem, D: Backend<E>> DenseNoBias<I, O, E, D> {
    /// `x [rows, I]` → `[rows, O]`, through the device's dense kernel.
    fn rows<T: Tape<E, D>>(&self, x: Rows<E, D, T>) -> Result<Rows<E, D, T>, D::Err> {
        let w = self.weight.retaped::<T>().try_reshape_like(&(O, I))?;
        D::dense_forward(x, w, None)
    }
}

macro_rules! dense_modules {
    ($name:ident) => {
        impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> NonMutableModule
            for $name<I, O, E, D>
        {
        }

        impl<const I: usize, const O: usize, E: Elem, D: Backend<E>, T: Tape<E, D>>
            Module<Tensor<(Const<I>,), E, D, T>> for $name<I, O, E, D>
        {
            type Output = Tensor<(Const<O>,), E, D, T>;
            type Error = D::Err;

            /// `[I] -> [O]`.
            fn try_forward(&self, x: Tensor<(Const<I>,), E, D, T>) -> Result<Self::Output, D::Err> {
                let y = self.rows(x.try_reshape_like(&(1, I))?)?;
                y.try_reshape_like(&(Const,))
            }
        }

        impl<const I: usize, const O: usize, B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
            Module<Tensor<(B, Const<I>), E, D, T>> for $name<I, O, E, D>
        {
            type Output = Tensor<(B, Const<O>), E, D, T>;
            type Error = D::Err;

            /// `(B, I) -> (B, O)`.
            fn try_forward(
                &self,
                x: Tensor<(B, Const<I>), E, D, T>,
            ) -> Result<Self::Output, D::Err> {
                let b = x.shape().0;
                let y = self.rows(x.try_reshape_like(&(b.size(), I))?)?;
                y.try_reshape_like(&(b, Const))
            }
        }

        impl<
                const I: usize,
                const O: usize,
                B: Dim,
                S: Dim,
                E: Elem,
                D: Backend<E>,
                T: Tape<E, D>,
            > Module<Tensor<(B, S, Const<I>), E, D, T>> for $name<I, O, E, D>
        {
            type Output = Tensor<(B, S, Const<O>), E, D, T>;
            type Error = D::Err;

            /// `(B, T, I) -> (B, T, O)`: every step of every sequence.
            fn try_forward(
                &self,
                x: Tensor<(B, S, Const<I>), E, D, T>,
            ) -> Result<Self::Output, D::Err> {
                let (b, s, _) = *x.shape();
                let y = self.rows(x.try_reshape_like(&(b.size() * s.size(), I))?)?;
                y.try_reshape_like(&(b, s, Const))
            }
        }
    };
}

dense_modules!(Dense);
dense_modules!(DenseNoBias);
