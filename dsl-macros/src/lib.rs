//! The `model!` macro of sxima.
//!
//! A thin entry point: the work happens in plain modules that unit tests can
//! call without a proc-macro context.
//! * [`parse`]: the syntax tree of the DSL;
//! * [`layer`]: the layer catalogue and argument checking;
//! * [`shape`]: shape inference for one layer (pure arithmetic);
//! * [`plan`]: inference over a whole model (names, shapes, assertions);
//! * [`expand`]: code generation.
//!
//! The macro never panics: every bad input is a `syn::Error` spanned on the
//! offending token.

use proc_macro::TokenStream;

mod expand;
mod layer;
mod parse;
mod plan;
mod shape;

#[cfg(test)]
mod prop_tests;

/// Declares one or more neural network models; see the `sxima` crate docs.
///
/// ```ignore
/// model! {
///     /// A small MLP for 28x28 digits.
///     pub Mlp(input: [1, 28, 28]) {
///         Flatten,
///         fc1: Dense(128),
///         ReLU,
///         fc2: Dense(10),
///     }
/// }
/// ```
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    expand::expand_tokens(input.into()).into()
}
