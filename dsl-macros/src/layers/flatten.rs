//! `Flatten`: 1 to 4 dims `-> [product]`, no parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::{err, fmt_shape, lit, product};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct Flatten;

pub const DOC: &str = "| `Flatten` | | 1 to 4 dims `-> [product]` |";

impl LayerKind for Flatten {
    fn name(&self) -> &'static str {
        "Flatten"
    }
    fn snake(&self) -> &'static str {
        "flatten"
    }
    fn args(&self) -> &'static [ArgSpec] {
        &[]
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, _: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(FlattenSpec))
    }
}

#[derive(Debug)]
struct FlattenSpec;

impl Node for FlattenSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        if input.len() > 4 {
            return Err(err(
                cx.span,
                format!(
                    "{} supports inputs of 1 to 4 dims, got {}",
                    cx.label,
                    fmt_shape(input)
                ),
            ));
        }
        let n = product(input, cx.span, cx.label)?;
        Ok(Inferred::plain(vec![n], FlattenCode { n }))
    }
}

#[derive(Debug)]
struct FlattenCode {
    n: u64,
}

impl Emit for FlattenCode {
    /// Runtime order: `Flatten<N>` (N = product of the input dims).
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let n = lit(self.n);
        LayerCode::new_call(quote!(#l::Flatten<#n>))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn flattens() {
        assert_eq!(out("Flatten", &[64, 4, 4]), vec![1024]);
        assert_eq!(out("Flatten", &[7]), vec![7]);
        assert_eq!(
            code("Flatten", &[2, 3]),
            "L::Flatten<6><L::Flatten<6>>::new()"
        );
        assert!(msg("Flatten", &[1, 2, 3, 4, 5]).contains("1 to 4 dims"));
        let big = u64::MAX / 2;
        assert!(msg("Flatten", &[big, big]).contains("too large"));
    }
}
