//! `LeakyReLU(alpha = 0.01)`: `max(x, alpha * x)`, any shape, no parameters
//! (PyTorch `nn.LeakyReLU(negative_slope)`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::err;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct LeakyReLU;

pub const DOC: &str = "| `LeakyReLU` | `alpha = 0.01` | any |";

const ARGS: &[ArgSpec] = &[ArgSpec::positional("alpha", "0.01")];

impl LayerKind for LeakyReLU {
    fn name(&self) -> &'static str {
        "LeakyReLU"
    }
    fn snake(&self) -> &'static str {
        "leaky_relu"
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
        let alpha = b.float_or("alpha", 0.01)?;
        if !alpha.v.is_finite() {
            return Err(err(
                alpha.span,
                format!("{}: alpha must be finite", b.label),
            ));
        }
        Ok(Box::new(LeakyCode { alpha: alpha.v }))
    }
}

#[derive(Debug, Clone, Copy)]
struct LeakyCode {
    alpha: f64,
}

impl Node for LeakyCode {
    fn infer(&self, input: &[u64], _: &Cx<'_>) -> syn::Result<Inferred> {
        Ok(Inferred::plain(input.to_vec(), *self))
    }
}

impl Emit for LeakyCode {
    /// Runtime: `LeakyReLU::new(alpha)`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let a = Literal::f64_unsuffixed(self.alpha);
        LayerCode {
            ty: quote!(#l::LeakyReLU),
            ctor: Some(quote!(#l::LeakyReLU::new(#a))),
            post: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn default_and_explicit_alpha() {
        assert_eq!(out("LeakyReLU", &[3, 2]), vec![3, 2]);
        assert_eq!(
            code("LeakyReLU", &[3]),
            "L::LeakyReLUL::LeakyReLU::new(0.01)"
        );
        assert_eq!(
            code("LeakyReLU(0.2)", &[3]),
            "L::LeakyReLUL::LeakyReLU::new(0.2)"
        );
        assert!(msg("LeakyReLU(negative_slope = 0.2)", &[3]).contains("did you mean `alpha`"));
    }
}
