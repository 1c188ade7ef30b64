//! `Dropout(p)`: zeroes each element with probability `p` in training, any
//! shape, no parameters.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::err;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct Dropout;

pub const DOC: &str = "| `Dropout` | `p` in `[0, 1)` | any |";

const ARGS: &[ArgSpec] = &[ArgSpec::required("p")];

impl LayerKind for Dropout {
    fn name(&self) -> &'static str {
        "Dropout"
    }
    fn snake(&self) -> &'static str {
        "dropout"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn any_length(&self) -> bool {
        true
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let p = b.float(b.req("p")?, "p")?;
        if !(0.0..1.0).contains(&p.v) {
            return Err(err(
                p.span,
                format!(
                    "{}: the drop probability must be in [0, 1), got {}",
                    b.label, p.v
                ),
            ));
        }
        Ok(Box::new(DropoutCode { p: p.v }))
    }
}

#[derive(Debug, Clone, Copy)]
struct DropoutCode {
    p: f64,
}

impl Node for DropoutCode {
    fn infer(&self, input: &[u64], _: &Cx<'_>) -> syn::Result<Inferred> {
        Ok(Inferred::plain(input.to_vec(), *self))
    }
}

impl Emit for DropoutCode {
    /// Runtime: `Dropout::new(p)`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let p = Literal::f64_unsuffixed(self.p);
        LayerCode {
            ty: quote!(#l::Dropout),
            ctor: Some(quote!(#l::Dropout::new(#p))),
            post: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn probability_range() {
        assert_eq!(out("Dropout(0.0)", &[3]), vec![3]);
        assert_eq!(code("Dropout(0.5)", &[3]), "L::DropoutL::Dropout::new(0.5)");
        assert!(msg("Dropout(1.0)", &[3]).contains("[0, 1)"));
        assert!(msg("Dropout(-0.1)", &[3]).contains("[0, 1)"));
        assert!(msg("Dropout(rate = 0.1)", &[3]).contains("did you mean `p`"));
    }
}
