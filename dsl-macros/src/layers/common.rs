//! Small helpers every layer module shares: checked arithmetic that turns
//! overflow into a spanned "too large" error, and shape formatting.

use proc_macro2::Span;

/// A spanned compile error.
pub fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// "`label`: a size is too large to compute".
pub fn too_large(span: Span, label: &str) -> syn::Error {
    err(span, format!("{label}: a size is too large to compute"))
}

/// Formats a shape as `[a, b, c]`.
pub fn fmt_shape(shape: &[u64]) -> String {
    let parts: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("[{}]", parts.join(", "))
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
