//! `Embedding`: a lookup table from integer tokens to vectors (PyTorch
//! `nn.Embedding`, Keras `Embedding`), dfdx's layer under sxima's name.
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

use crate::error::Error;

/// Token embedding: `[B, T]` tokens -> `[B, T, M]`. Parameter `weight [V, M]`.
pub type Embedding<const V: usize, const M: usize, E, D> = dfdx::nn::modules::Embedding<V, M, E, D>;

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
