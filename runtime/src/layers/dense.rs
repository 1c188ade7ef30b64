//! Dense (fully connected) layers: dfdx's `Linear`, under Keras's name.
//!
//! `Dense<I, O>` maps `(B, I) -> (B, O)` (and `(B, T, I) -> (B, T, O)`),
//! `y = x W^T + b` with `W: [O, I]`, initialised like PyTorch
//! (`U(-1/sqrt(I), 1/sqrt(I))`).

/// Dense layer with bias. Parameters: `weight [O, I]`, `bias [O]`.
pub type Dense<const I: usize, const O: usize, E, D> = dfdx::nn::modules::Linear<I, O, E, D>;

/// Dense layer without bias (`Dense(n, bias = false)`). Parameter: `weight [O, I]`.
pub type DenseNoBias<const I: usize, const O: usize, E, D> =
    dfdx::nn::modules::UnbiasedLinear<I, O, E, D>;
