//! Small helpers every layer module shares: checked arithmetic that turns
//! overflow into a spanned "too large" error, shape formatting, and the two
//! markers a per-sample shape (`&[u64]`) may carry.
//!
//! Shapes are plain `[u64]` lists. Two values are markers, never sizes (a
//! written size is at least 1 and below `u64::MAX`): [`DYN`] is a dimension
//! known only at run time (`[seq, 28]`, a `usize` dim), and a trailing
//! [`TOKENS`] marks integer token ids (`tokens[35]` is `[35, TOKENS]`), which
//! only `Embedding` consumes. [`crate::plan`] keeps both away from layers that
//! do not accept them.

use proc_macro2::Span;

/// A spanned compile error.
pub fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// "`label`: a size is too large to compute".
pub fn too_large(span: Span, label: &str) -> syn::Error {
    err(span, format!("{label}: a size is too large to compute"))
}

/// A dimension whose size is known only at run time (written `_` or a name).
pub const DYN: u64 = 0;

/// Trailing marker of a token-id shape: `tokens[T]` is `[T, TOKENS]`.
pub const TOKENS: u64 = u64::MAX;

/// Whether `shape` holds integer token ids.
pub fn is_tokens(shape: &[u64]) -> bool {
    shape.last() == Some(&TOKENS)
}

/// The dims of `shape` without the token marker.
pub fn dims_of(shape: &[u64]) -> &[u64] {
    if is_tokens(shape) {
        &shape[..shape.len() - 1]
    } else {
        shape
    }
}

/// Whether `shape` has a run-time dimension.
pub fn has_dyn(shape: &[u64]) -> bool {
    dims_of(shape).contains(&DYN)
}

/// Formats a shape as `[a, b, c]` (`_` for a run-time dim, `tokens[..]` for token ids).
pub fn fmt_shape(shape: &[u64]) -> String {
    let parts: Vec<String> = dims_of(shape)
        .iter()
        .map(|&d| if d == DYN { "_".into() } else { d.to_string() })
        .collect();
    let head = if is_tokens(shape) { "tokens" } else { "" };
    format!("{head}[{}]", parts.join(", "))
}

/// `a + b`, or a "too large" error.
pub fn add(a: u64, b: u64, span: Span, label: &str) -> syn::Result<u64> {
    a.checked_add(b).ok_or_else(|| too_large(span, label))
}

/// `a * b`, or a "too large" error.
pub fn mul(a: u64, b: u64, span: Span, label: &str) -> syn::Result<u64> {
    a.checked_mul(b).ok_or_else(|| too_large(span, label))
}

/// Product of `dims`, or a "too large" error.
pub fn product(dims: &[u64], span: Span, label: &str) -> syn::Result<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| mul(acc, d, span, label))
}

/// An unsuffixed integer literal for a const generic.
pub fn lit(v: u64) -> proc_macro2::Literal {
    proc_macro2::Literal::u64_unsuffixed(v)
}

/// `true` / `false` tokens for a const generic.
pub fn lit_bool(v: bool) -> proc_macro2::TokenStream {
    if v {
        quote::quote!(true)
    } else {
        quote::quote!(false)
    }
}
