//! `StochasticDepth(p)`: drops the whole residual branch per sample with
//! probability `p` in training (torchvision's `mode = "row"`), identity at
//! inference; any shape, no parameters. Written as the last layer of a
//! `residual` body (EfficientNet's `MBConv`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::err;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct StochasticDepth;

pub const DOC: &str = "| `StochasticDepth` | `p` in `[0, 1)` (per sample, training only) | any |";

const ARGS: &[ArgSpec] = &[ArgSpec::required("p")];

impl LayerKind for StochasticDepth {
    fn name(&self) -> &'static str {
        "StochasticDepth"
    }
    fn snake(&self) -> &'static str {
        "stochastic_depth"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
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
                    "{}: the probability of dropping the branch must be in [0, 1), got {}",
                    b.label, p.v
                ),
            ));
        }
        Ok(Box::new(StochasticDepthCode { p: p.v }))
    }
}

#[derive(Debug, Clone, Copy)]
struct StochasticDepthCode {
    p: f64,
}

impl Node for StochasticDepthCode {
    fn infer(&self, input: &[u64], _: &Cx<'_>) -> syn::Result<Inferred> {
        Ok(Inferred::plain(input.to_vec(), *self))
    }
}

impl Emit for StochasticDepthCode {
    /// Runtime: `StochasticDepth::new(p)`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let p = Literal::f64_unsuffixed(self.p);
        LayerCode {
            ty: quote!(#l::StochasticDepth),
            ctor: Some(quote!(#l::StochasticDepth::new(#p))),
            post: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn probability_range_and_code() {
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
