//! The layers that drop with probability `p` in training and are the
//! identity at inference; any shape, no parameters:
//! - `Dropout(p)` zeroes each element;
//! - `StochasticDepth(p)` drops the whole residual branch per sample
//!   (torchvision's `mode = "row"`), written as the last layer of a
//!   `residual` body (EfficientNet's `MBConv`).

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::err;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// A layer of this family: everything that differs between them.
pub struct DropLayer {
    name: &'static str,
    snake: &'static str,
    doc: &'static str,
    /// What `p` is the probability of, for the range error.
    what: &'static str,
    /// Accepts `[seq, F]` inputs of a run-time length (element-wise).
    any_length: bool,
}

pub const DROPOUT: DropLayer = DropLayer {
    name: "Dropout",
    snake: "dropout",
    doc: "| `Dropout` | `p` in `[0, 1)` | any |",
    what: "the drop probability",
    any_length: true,
};

pub const STOCHASTIC_DEPTH: DropLayer = DropLayer {
    name: "StochasticDepth",
    snake: "stochastic_depth",
    doc: "| `StochasticDepth` | `p` in `[0, 1)` (per sample, training only) | any |",
    what: "the probability of dropping the branch",
    any_length: false,
};

const ARGS: &[ArgSpec] = &[ArgSpec::required("p")];

impl LayerKind for DropLayer {
    fn name(&self) -> &'static str {
        self.name
    }
    fn snake(&self) -> &'static str {
        self.snake
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn any_length(&self) -> bool {
        self.any_length
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let p = b.float(b.req("p")?, "p")?;
        if !(0.0..1.0).contains(&p.v) {
            return Err(err(
                p.span,
                format!("{}: {} must be in [0, 1), got {}", b.label, self.what, p.v),
            ));
        }
        Ok(Box::new(DropCode {
            runtime: self.name,
            p: p.v,
        }))
    }
}

#[derive(Debug, Clone, Copy)]
struct DropCode {
    /// The runtime layer type, named as the layer.
    runtime: &'static str,
    p: f64,
}

impl Node for DropCode {
    fn infer(&self, input: &[u64], _: &Cx<'_>) -> syn::Result<Inferred> {
        Ok(Inferred::plain(input.to_vec(), *self))
    }
}

impl Emit for DropCode {
    /// Runtime: `Dropout::new(p)` or `StochasticDepth::new(p)`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let p = Literal::f64_unsuffixed(self.p);
        let ty = Ident::new(self.runtime, Span::call_site());
        LayerCode {
            ty: quote!(#l::#ty),
            ctor: Some(quote!(#l::#ty::new(#p))),
            post: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn dropout_probability_range() {
        assert_eq!(out("Dropout(0.0)", &[3]), vec![3]);
        assert_eq!(code("Dropout(0.5)", &[3]), "L::DropoutL::Dropout::new(0.5)");
        assert!(msg("Dropout(1.0)", &[3]).contains("[0, 1)"));
        assert!(msg("Dropout(-0.1)", &[3]).contains("[0, 1)"));
        assert!(msg("Dropout(rate = 0.1)", &[3]).contains("did you mean `p`"));
    }

    #[test]
    fn stochastic_depth_probability_range_and_code() {
        assert_eq!(out("StochasticDepth(0.2)", &[16, 7, 7]), vec![16, 7, 7]);
        assert_eq!(
            code("StochasticDepth(0.0125)", &[3]),
            "L::StochasticDepthL::StochasticDepth::new(0.0125)"
        );
        assert!(msg("StochasticDepth(1.0)", &[3]).contains("[0, 1)"));
        assert!(msg("StochasticDepth(-0.5)", &[3]).contains("[0, 1)"));
        assert!(msg("StochasticDepth", &[3]).contains("p"));
    }
}
