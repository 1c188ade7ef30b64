//! `LocalResponseNorm(size, alpha = 1e-4, beta = 0.75, k = 1.0)`: each
//! element divided by `(k + alpha / size * sum of squares over `size`
//! neighbouring channels)^beta` (PyTorch `nn.LocalResponseNorm`, AlexNet),
//! on `[C, H, W]`, `[C, L]` or `[C]`; shape-preserving, no parameters.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::{err, fmt_shape, lit};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct LocalResponseNorm;

pub const DOC: &str = "| `LocalResponseNorm` | `size`, `alpha = 1e-4`, `beta = 0.75`, `k = 1.0` | `[C, H, W]`, `[C, L]` or `[C]`, unchanged |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("size"),
    ArgSpec::named("alpha", "1e-4"),
    ArgSpec::named("beta", "0.75"),
    ArgSpec::named("k", "1.0"),
];

impl LayerKind for LocalResponseNorm {
    fn name(&self) -> &'static str {
        "LocalResponseNorm"
    }
    fn snake(&self) -> &'static str {
        "local_response_norm"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let label = b.label;
        let size = b.req_uint("size")?;
        if size.v == 0 {
            return Err(err(
                size.span,
                format!("{label}: size (the number of neighbouring channels) must be at least 1"),
            ));
        }
        let alpha = b.float_or("alpha", 1e-4)?;
        let beta = b.float_or("beta", 0.75)?;
        let k = b.float_or("k", 1.0)?;
        for (name, v) in [("alpha", alpha), ("beta", beta)] {
            if !(v.v >= 0.0 && v.v.is_finite()) {
                return Err(err(
                    v.span,
                    format!("{label}: {name} must be a finite number >= 0, got {}", v.v),
                ));
            }
        }
        if !(k.v > 0.0 && k.v.is_finite()) {
            return Err(err(
                k.span,
                format!("{label}: k must be a finite number > 0, got {}", k.v),
            ));
        }
        Ok(Box::new(LrnCode {
            size: size.v,
            alpha: alpha.v,
            beta: beta.v,
            k: k.v,
        }))
    }
}

#[derive(Debug, Clone, Copy)]
struct LrnCode {
    size: u64,
    alpha: f64,
    beta: f64,
    k: f64,
}

impl Node for LrnCode {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        match input {
            [_, _, _] | [_, _] | [_] => Ok(Inferred::plain(input.to_vec(), *self)),
            _ => Err(err(
                cx.span,
                format!(
                    "{} expects [channels, height, width], [channels, length] or [channels] but got {}",
                    cx.label,
                    fmt_shape(input)
                ),
            )),
        }
    }
}

impl Emit for LrnCode {
    /// Runtime (`runtime/src/layers/local_response_norm.rs`):
    /// `LocalResponseNorm::new(size, alpha, beta, k)`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let size = lit(self.size);
        let (a, b, k) = (
            Literal::f64_unsuffixed(self.alpha),
            Literal::f64_unsuffixed(self.beta),
            Literal::f64_unsuffixed(self.k),
        );
        LayerCode {
            ty: quote!(#l::LocalResponseNorm),
            ctor: Some(quote!(#l::LocalResponseNorm::new(#size, #a, #b, #k))),
            post: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg, out};

    #[test]
    fn shape_preserving_with_pytorch_defaults() {
        assert_eq!(out("LocalResponseNorm(5)", &[96, 55, 55]), vec![96, 55, 55]);
        assert_eq!(out("LocalResponseNorm(3)", &[16]), vec![16]);
        assert_eq!(out("LocalResponseNorm(3)", &[16, 20]), vec![16, 20]);
        assert_eq!(infer("LocalResponseNorm(5)", &[8, 4, 4]).unwrap().params, 0);
        assert_eq!(
            code("LocalResponseNorm(5)", &[8, 4, 4]),
            "L::LocalResponseNormL::LocalResponseNorm::new(5,0.0001,0.75,1.0)"
        );
        assert_eq!(
            code(
                "LocalResponseNorm(5, alpha = 2e-4, beta = 0.5, k = 2)",
                &[8, 4, 4]
            ),
            "L::LocalResponseNormL::LocalResponseNorm::new(5,0.0002,0.5,2.0)"
        );
    }

    #[test]
    fn bad_arguments_and_inputs() {
        assert!(msg("LocalResponseNorm(0)", &[8, 4, 4]).contains("size"));
        assert!(msg("LocalResponseNorm", &[8, 4, 4]).contains("missing required argument `size`"));
        assert!(msg("LocalResponseNorm(5, alpha = -1e-4)", &[8, 4, 4]).contains("alpha must be"));
        assert!(msg("LocalResponseNorm(5, beta = -0.75)", &[8, 4, 4]).contains("beta must be"));
        assert!(msg("LocalResponseNorm(5, k = 0)", &[8, 4, 4]).contains("k must be"));
        assert!(
            msg("LocalResponseNorm(5, 1e-4)", &[8, 4, 4]).contains("name the others: `alpha = ")
        );
        let m = msg("LocalResponseNorm(5)", &[8, 4, 4, 2]);
        assert!(
            m.contains(
                "expects [channels, height, width], [channels, length] or [channels] but got [8, 4, 4, 2]"
            ),
            "{m}"
        );
    }
}
