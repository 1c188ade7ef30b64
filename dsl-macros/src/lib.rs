//! The `model!` macro of sxima.
//!
//! A thin entry point: the work happens in plain modules that unit tests can
//! call without a proc-macro context.
//! * [`parse`]: the syntax tree of the DSL;
//! * [`layers`]: the layer catalogue, one module per layer kind (arguments,
//!   shape rule, code), with the size formulas from `sxima-shape`;
//! * [`template`]: block templates, their arguments and arithmetic;
//! * [`plan`]: inference over a whole model (names, shapes, assertions,
//!   composite nodes);
//! * [`expand`]: code generation;
//! * [`api`]: the generated model's derives and `forward` entry points;
//! * [`paths`]: the crate path generated code starts with (`$crate`).
//!
//! The macro never panics: every bad input is a `syn::Error` spanned on the
//! offending token.

use proc_macro::TokenStream;

mod api;
mod clauses;
mod expand;
mod hooks;
mod layers;
mod parse;
mod paths;
mod plan;
mod template;

#[cfg(test)]
mod prop_tests;

/// Declares one or more neural network models whose shapes are checked at
/// compile time.
///
/// ```ignore
/// use sxima::prelude::*;
///
/// model! {
///     /// The lecture's CNN for 28x28 grey digits.
///     pub MnistCnn(input: [1, 28, 28]) {
///         conv1: Conv2d(32, kernel = 5),                 // [32, 24, 24]
///         ReLU,                                          // field `relu_1`
///         MaxPool2d(2),                                  // [32, 12, 12]
///         conv2: Conv2d(64, kernel = 5) -> [64, 8, 8],   // checked assertion
///         ReLU,
///         MaxPool2d(2),
///         Flatten,                                       // [1024]
///         fc: Dense(10),
///     }
/// }
/// ```
///
/// * Each model is `[attributes] [vis] Name(input: [dims]) { layers }`; doc
///   comments and attributes go to the generated struct. Shapes are per
///   sample: the batch dimension is never written.
/// * A layer is `[name:] Kind[(args)] [-> [dims]]`. Unnamed layers get the
///   field name `<kind>_<n>` (`relu_1`, `max_pool2d_2`). The leading
///   arguments a Keras user writes positionally (`Conv2d(32, 3)`: filters,
///   kernel) may be positional; the others (those with a default, below
///   `name = default`) are written `name = value`. Input channels and
///   features are inferred, never written. Values are integers, floats,
///   `true`/`false`, keywords and pairs `(h, w)`.
/// * A layer may be named by a number, `3: Conv2d(..)` (the field `_3`,
///   parameters `3.weight`), so a PyTorch `nn.Sequential`'s state dict loads
///   by name.
/// * `Name -> [dims]` with a type from another `model!` uses that model as a
///   layer; its input and output shapes are checked by const assertions.
///
/// | layer | arguments (defaults) | shape |
/// |---|---|---|
/// | `Dense` | `units`, `bias = true` | `[I] -> [units]`; per step on a sequence: `[T, I] -> [T, units]` |
/// | `ReLU`, `Sigmoid`, `Tanh`, `Softmax`, `LogSoftmax`, `GELU`, `SiLU` | | any |
/// | `LeakyReLU` | `alpha = 0.01` | any |
/// | `Dropout` | `p` in `[0, 1)` | any |
/// | `StochasticDepth` | `p` in `[0, 1)` (per sample, training only) | any |
/// | `BatchNorm1d` / `BatchNorm2d` | `eps = 1e-5`, `momentum = 0.1` | `[C]`, `[C, L]` / `[C, H, W]` |
/// | `Flatten` | | 1 to 4 dims `-> [product]` |
/// | `Conv2d` | `filters`, `kernel`, `stride = 1`, `padding = 0` (number, pair, `valid`, `same`, `full`, `((t, b), (l, r))`), `dilation = 1`, `groups = 1`, `bias = true` | `[C, H, W] -> [filters, H', W']` |
/// | `ConvTranspose2d` | `filters`, `kernel`, `stride = 1`, `padding = 0`, `output_padding = 0` | `[C, H, W] -> [filters, H', W']` |
/// | `MaxPool2d`, `AvgPool2d` | `kernel`, `stride = kernel`, `padding = 0` (or `same`), `ceil_mode = false`, `count_include_pad = true` (avg) | `[C, H, W] -> [C, H', W']` |
/// | `GlobalAvgPool`, `GlobalMaxPool` | | `[C, H, W] -> [C]` |
/// | `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d` | `output_size` | `[C, H, W] -> [C, oh, ow]` |
/// | `ZeroPadding2d` | `padding`: `p`, `(ph, pw)` or `((t, b), (l, r))` | `[C, H, W] -> [C, H + t + b, W + l + r]` |
/// | `UpSampling2d` | `scale`, `mode = nearest` (or `bilinear`), `align_corners = false` | `[C, H, W] -> [C, H * sh, W * sw]` |
/// | `LocalResponseNorm` | `size`, `alpha = 1e-4`, `beta = 0.75`, `k = 1.0` | `[C, H, W]`, `[C, L]` or `[C]`, unchanged |
/// | `SimpleRnn`, `Lstm`, `Gru` | `units`, `return_sequences = false`, `dropout = 0.0` (input connections), `reset_after = true` (`Gru`) | `[T, F] -> [units]`, or `[T, units]` with `return_sequences = true` |
/// | `Bidirectional` | `layer` (`SimpleRnn`, `Lstm` or `Gru` call), `merge = concat` (or `sum`, `mean`) | `[T, F] -> [T, 2 * units]` (concat) or `[T, units]`; `[..]` without steps when the layer returns its last state |
/// | `Embedding` | `vocab`, `dim` | `tokens[T] -> [T, dim]` (the input declared `tokens[..]`) |
///
/// `padding = same` follows Keras/TensorFlow for every stride (output
/// `ceil(in / stride)`, the odd padding row/column at the bottom/right).
/// Every mistake (unknown layer or argument, wrong argument type, a shape
/// that does not fit, a failing `-> [..]`) is a compile error on the
/// offending token, with the numbers and a hint.
///
/// Per model the macro generates a struct generic over `E: Dtype = f32` and
/// `D: Storage<E> = Cpu` with one public field per layer, and implements
/// dfdx's `TensorCollection`, `Module` (inference) and `ModuleMut`
/// (training) for inputs `Tensor<(B, dims..), E, D, T>` of any batch `B`, and
/// sxima's `ModelInfo` (shapes, parameter count, summary) and `Model`.
///
/// Use it as `sxima::model!`: that `macro_rules!` wrapper passes sxima's own
/// crate path to [`__model!`](macro@__model), so a renamed dependency
/// (`nn = { package = "sxima", .. }`) works; called directly, this macro
/// writes `::sxima` paths.
///
/// Composition (each composite is a struct of its own with named fields, so
/// parameter paths read like torchvision's state dict keys):
///
/// * `block Name(p1, p2) { layers }` declares a template, used as
///   `Name(a, b)` or `Name(p2 = b, p1 = a)`; parameters may appear in
///   arguments with integer arithmetic (`width * 4`, `c / 2`, `+`, `-`).
/// * `residual(shortcut = identity | projection | auto) { layers }` computes
///   `body(x) + shortcut(x)`; a projection is a 1x1 `Conv2d` with the body's stride
///   and no bias plus `BatchNorm2d`, in the field `downsample` (`downsample.0`,
///   `downsample.1`); `auto` (the default) is the identity when the body
///   keeps the shape.
/// * `parallel(concat | add | mul) { a { .. } b { .. } }`: every branch gets
///   the input; `concat` joins along channels (other dims must agree),
///   `add` / `mul` need equal shapes or a per-channel `[C]` / `[C, 1, 1]`
///   gate (squeeze-and-excitation); an empty branch `{ }` is the identity.
///   A branch named `_` is no field of its own: `_ { }` is the identity and
///   the layers of `_ { .. }` are fields of the enclosing struct (as in
///   torchvision's `SqueezeExcitation`: `fc1`, `fc2`). A branch that is one
///   unnamed block use or group is that block or group (`branch2 { {
///   Basic(96), Basic(128) } }` gives `branch2.0.conv`, `branch2.1.conv`).
/// * `repeat N { .. }` and groups `{ a, b, c }` number their children from 0
///   (`layer1.0.conv1.weight`; a group's child written `name: ..` keeps its
///   name); a repeated body must keep the shape.
/// * An unnamed `residual` / `parallel` is transparent: its layers, its
///   `downsample` and its branches are fields of the enclosing struct (the
///   block, as in torchvision's `BasicBlock`); named, it is a field of its own.
///
/// Autoencoders and VAEs (the terms reach `fit` through
/// `Model::try_forward_mut_penalized`; see `sxima_runtime::penalty`):
///
/// ```ignore
/// model! {
///     /// A sparse autoencoder that also returns its code.
///     pub SparseAe(input: [784], reconstructs, outputs(code, recon)) {
///         enc: Dense(64),
///         code: Sigmoid,
///         dec: Dense(784),
///         recon: Sigmoid,
///     } regularize {
///         code: sparsity_kl(rho = 0.05, weight = 3.0),   // term `code.sparsity_kl`
///         enc: contractive(weight = 1e-4),              // term `enc.contractive`
///         dec: activity_l1(1e-5),                       // term `dec.activity_l1`
///     }
///
///     pub VaeEncoder(input: [784]) {
///         fc: Dense(256), ReLU,
///         z: gaussian(kl_weight = 1.0) { mu { Dense(2) } logvar { Dense(2) } },
///     }
///     pub VaeDecoder(input: [2]) { fc: Dense(256), ReLU, out: Dense(784), Sigmoid }
///     pub Vae(input: [784], reconstructs) {
///         encoder: VaeEncoder -> [2],                   // term `encoder.z.kl`
///         decoder: VaeDecoder -> [784],
///     }
/// }
/// ```
///
/// * `regularize { layer: kind(args), .. }` after the body attaches a
///   penalty to a layer of the model's top level (not inside an unnamed
///   `residual` / `parallel`): `activity_l1(weight = 1)` (the output
///   flattened to `[batch, n]`), `sparsity_kl(rho, weight = 1)` (`rho`
///   strictly between 0 and 1; for a sigmoid code), `contractive(weight = 1)`
///   (on a `Dense` over `[features]` directly followed by `Sigmoid`: the
///   closed form with the sigmoid's output and the dense weight). Arguments
///   may be positional in that order. The training forward pushes each as
///   the term `<layer>.<kind>`; an unknown layer or kind, a wrong `rho`, a
///   contractive penalty elsewhere are compile errors on the token.
/// * `gaussian(kl_weight = 1) { mu { .. } logvar { .. } }` is a VAE's code:
///   both heads read the node's input and must give one shape (else an
///   error on `logvar`). Inference returns `mu`; training returns `mu +
///   exp(logvar / 2) * eps` (`eps` standard normal from the input's seeded
///   device) and pushes the KL divergence to `N(0, I)` as `<name>.kl`. The
///   heads are the fields `mu` and `logvar` (`z.mu.weight` for a one-layer
///   head, `z.logvar.0.weight` for a list); both count in the summary,
///   parameters and MACs.
/// * `reconstructs` in the header: the output shape must equal the input
///   shape (an error on the last layer; through a nested model, its `-> [..]`
///   is checked against the model by a const assertion).
/// * `outputs(name [= layer | code.mu | code.logvar], ..)` in the header:
///   generates `pub struct <Model>Outputs<B, E, D, T>`, one tensor field per
///   output with its shape, and implements `MultiOutput` (inference, and
///   training with the penalties). Layers are top-level ones; `name` alone
///   is the layer of that name. In the training form the forward's tape
///   rides on the model's final output when it is declared, else on the
///   first output. The model's own output stays its last layer's.
/// * Nested models' terms are collected with the field's path as prefix
///   (`encoder.z.kl`), inside composites too.
///
/// Not supported yet (rejected with a spanned error): dynamic dimensions
/// (`_` or a name).
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    expand::expand_tokens(input.into()).into()
}

/// `model!` with the facade's crate path first: `__model! { [$crate] items.. }`.
/// The facade's `macro_rules! model` calls it, so the generated code names
/// `$crate::__private::..` and a renamed dependency resolves. Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __model(input: TokenStream) -> TokenStream {
    expand::expand_with_crate(input.into()).into()
}
