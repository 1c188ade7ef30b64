//! `BatchNorm1d` (`[C]` or `[C, L]`) and `BatchNorm2d` (`[C, H, W]`):
//! per-channel normalisation with a learned scale and shift (`2 * C`
//! parameters) and running statistics; `eps` and `momentum` as PyTorch's
//! (GoogLeNet's batch norm has `eps = 0.001`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::common::{err, fmt_shape, lit, mul};
use super::window::expect_chw;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// `BatchNorm1d` when `two_d` is false, else `BatchNorm2d`.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm {
    two_d: bool,
}

pub const DOC: &str = "| `BatchNorm1d` / `BatchNorm2d` | `eps = 1e-5`, `momentum = 0.1` | `[C]`, `[C, L]` / `[C, H, W]` |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::named("eps", "1e-5"),
    ArgSpec::named("momentum", "0.1"),
];

/// PyTorch's defaults.
const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.1;

pub const BATCH_NORM_1D: BatchNorm = BatchNorm { two_d: false };
pub const BATCH_NORM_2D: BatchNorm = BatchNorm { two_d: true };

impl LayerKind for BatchNorm {
    fn name(&self) -> &'static str {
        if self.two_d {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        }
    }
    fn snake(&self) -> &'static str {
        if self.two_d {
            "batch_norm2d"
        } else {
            "batch_norm1d"
        }
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn inferred_input(&self) -> Option<&'static str> {
        Some(if self.two_d { "channels" } else { "features" })
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let eps = b.float_or("eps", EPS)?;
        if !(eps.v > 0.0 && eps.v.is_finite()) {
            return Err(err(
                eps.span,
                format!("{}: eps must be a positive number, got {}", b.label, eps.v),
            ));
        }
        let momentum = b.float_or("momentum", MOMENTUM)?;
        if !(0.0..=1.0).contains(&momentum.v) {
            return Err(err(
                momentum.span,
                format!(
                    "{}: momentum (the weight of the new batch statistic, PyTorch's convention) must be in [0, 1], got {}",
                    b.label, momentum.v
                ),
            ));
        }
        Ok(Box::new(BatchNormSpec {
            two_d: self.two_d,
            eps: eps.v,
            momentum: momentum.v,
        }))
    }
}

#[derive(Debug, Clone, Copy)]
struct BatchNormSpec {
    two_d: bool,
    eps: f64,
    momentum: f64,
}

impl Node for BatchNormSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let label = cx.label;
        let c = if self.two_d {
            expect_chw(input, cx.span, label)?.0
        } else {
            match input {
                [c] | [c, _] => *c,
                _ => {
                    return Err(err(
                        cx.span,
                        format!(
                            "{label} expects [features] or [channels, length] but got {}; use BatchNorm2d for images",
                            fmt_shape(input)
                        ),
                    ))
                }
            }
        };
        Ok(Inferred {
            output: input.to_vec(),
            params: mul(c, 2, cx.span, label)?,
            macs: 0,
            explain: None,
            code: Box::new(BatchNormCode {
                c,
                two_d: self.two_d,
                eps: self.eps,
                momentum: self.momentum,
            }),
        })
    }
}

#[derive(Debug)]
struct BatchNormCode {
    c: u64,
    two_d: bool,
    eps: f64,
    momentum: f64,
}

impl Emit for BatchNormCode {
    /// Runtime order: `BatchNorm1d<C, E, D>` / `BatchNorm2d<C, E, D>`; other
    /// than PyTorch's defaults, `.with_eps_momentum(eps, momentum)` once built.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let c = lit(self.c);
        let mut code = LayerCode::visited(if self.two_d {
            quote!(#l::BatchNorm2d<#c, E, D>)
        } else {
            quote!(#l::BatchNorm1d<#c, E, D>)
        });
        if self.eps != EPS || self.momentum != MOMENTUM {
            let (e, m) = (
                Literal::f64_unsuffixed(self.eps),
                Literal::f64_unsuffixed(self.momentum),
            );
            code.post = Some(quote!(.with_eps_momentum(#e, #m)));
        }
        code
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg};

    #[test]
    fn ranks_and_params() {
        let i = infer("BatchNorm1d", &[16, 5]).unwrap();
        assert_eq!((i.output, i.params), (vec![16, 5], 32));
        assert_eq!(infer("BatchNorm2d", &[16, 5, 5]).unwrap().params, 32);
        assert_eq!(code("BatchNorm2d", &[2, 3, 3]), "L::BatchNorm2d<2,E,D>");
        assert_eq!(code("BatchNorm1d", &[2]), "L::BatchNorm1d<2,E,D>");
        assert!(msg("BatchNorm2d", &[16]).contains("[channels, height, width]"));
        assert!(msg("BatchNorm1d", &[16, 5, 5]).contains("BatchNorm2d"));
        let m = msg("BatchNorm2d(16)", &[16, 5, 5]);
        assert!(m.contains("the channels (16) are inferred"), "{m}");
        assert!(m.contains("did you mean `BatchNorm2d`?"), "{m}");
    }

    #[test]
    fn eps_and_momentum() {
        assert_eq!(
            code("BatchNorm2d(eps = 0.001)", &[2, 3, 3]),
            "L::BatchNorm2d<2,E,D>.with_eps_momentum(0.001,0.1)"
        );
        assert_eq!(
            code("BatchNorm1d(momentum = 0.01)", &[2]),
            "L::BatchNorm1d<2,E,D>.with_eps_momentum(0.00001,0.01)"
        );
        assert!(msg("BatchNorm2d(eps = 0.0)", &[2, 3, 3]).contains("eps must be a positive"));
        assert!(msg("BatchNorm2d(momentum = 1.5)", &[2, 3, 3]).contains("in [0, 1]"));
    }
}
