//! `Embedding`: a lookup table from integer tokens to vectors (PyTorch
//! `nn.Embedding`, Keras `Embedding`); the same parameter, initialisation
//! and saved name as dfdx's `Embedding`, with the lookup through the
//! device's [`Backend::embedding_forward`] (dfdx's `gather` by default, a
//! row copy on `Cpu`).
//!
//! `Embedding<V, M>` maps tokens `[B, T]` (`usize`, each `< V`) to
//! `[B, T, M]` (also `[T] -> [T, M]`): `y[b, t] = weight[x[b, t]]`. Parameter
//! `weight [V, M]`; its gradient adds up the rows of repeated tokens. Both
//! forwards are the same (no dropout, no statistics). dfdx initialises
//! `weight` as `U(-1/sqrt(V), 1/sqrt(V))` (PyTorch uses `N(0, 1)`).
//! Tokens must be `< V`: check untrusted ids with [`check_tokens`] first.
//!
//! ```
//! use sxima_runtime::dfdx::nn::BuildModule;
//! use sxima_runtime::dfdx::prelude::*;
//! use sxima_runtime::layers::{check_tokens, Embedding};
//!
//! let dev = Cpu::default();
//! let emb = <Embedding<10, 4, f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
//! let tokens: Tensor<(usize, usize), usize, Cpu> = dev.tensor_from_vec(vec![1, 2, 9, 1], (2, 2));
//! check_tokens::<10>(&tokens.as_vec()).unwrap();
//! let y: Tensor<(usize, usize, Const<4>), f32, _> = emb.forward(tokens);
//! assert_eq!(y.shape().1, 2);
//! ```

use dfdx::prelude::*;
use rand_distr::Uniform;

use crate::backend::Backend;
use crate::elem::{cast, Elem};
use crate::error::Error;

/// The output of an embedding of `[B, S]` tokens: `[B, S, M]`.
pub type Embedded<B, S, const M: usize, E, D, T> = Tensor<(B, S, Const<M>), E, D, T>;

/// Token embedding: `[B, T]` tokens -> `[B, T, M]`. Parameter `weight [V, M]`.
#[derive(Debug, Clone)]
pub struct Embedding<const V: usize, const M: usize, E: Dtype, D: Storage<E>> {
    /// `[V, M]`: row `t` is token `t`'s vector.
    pub weight: Tensor<Rank2<V, M>, E, D>,
}

impl<const V: usize, const M: usize, E: Elem, D: Device<E>> TensorCollection<E, D>
    for Embedding<V, M, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Embedding<V, M, E2, D2>;

    fn iter_tensors<W: ModuleVisitor<Self, E, D>>(
        visitor: &mut W,
    ) -> Result<Option<Self::To<W::E2, W::D2>>, W::Err> {
        visitor.visit_fields(
            Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                // dfdx's initialisation (and RNG use): U(-1/sqrt(V), 1/sqrt(V)).
                TensorOptions::reset_with(|t| {
                    let b: E = E::one() / cast::<E>(V as f64).sqrt();
                    t.try_fill_with_distr(Uniform::new(-b, b))
                }),
            ),
            |weight| Embedding { weight },
        )
    }
}

impl<const V: usize, const M: usize, E: Dtype, D: Storage<E>> NonMutableModule
    for Embedding<V, M, E, D>
{
}

impl<const V: usize, const M: usize, S: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(S,), usize, D, T>> for Embedding<V, M, E, D>
{
    type Output = Tensor<(S, Const<M>), E, D, T>;
    type Error = D::Err;

    /// `[T] -> [T, M]` (dfdx's `gather`: the batched form below is the one
    /// with a kernel per device).
    fn try_forward(&self, tokens: Tensor<(S,), usize, D, T>) -> Result<Self::Output, D::Err> {
        let (tokens, tape) = tokens.split_tape();
        self.weight.clone().put_tape(tape).try_gather(tokens)
    }
}

impl<const V: usize, const M: usize, B: Dim, S: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(B, S), usize, D, T>> for Embedding<V, M, E, D>
{
    type Output = Tensor<(B, S, Const<M>), E, D, T>;
    type Error = D::Err;

    /// `[B, T] -> [B, T, M]`, through the device's kernel; the output
    /// carries the tokens' tape.
    fn try_forward(&self, tokens: Tensor<(B, S), usize, D, T>) -> Result<Self::Output, D::Err> {
        let (tokens, tape) = tokens.split_tape();
        D::embedding_forward(self.weight.clone().put_tape(tape), tokens)
    }
}

/// `Ok` when every token is `< V`; else the first bad one as an error.
pub fn check_tokens<const V: usize>(tokens: &[usize]) -> Result<(), Error> {
    match tokens.iter().position(|&t| t >= V) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            format_args!("Embedding tokens (position {i})"),
            format!("a token below the vocabulary size {V}"),
            format!("token {}", tokens[i]),
        )),
    }
}
