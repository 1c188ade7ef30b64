//! `AdaptiveAvgPool2d(output_size)` and `AdaptiveMaxPool2d(output_size)`:
//! `[C, H, W] -> [C, oh, ow]` with PyTorch's bins, no parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::lit;
use super::window::{expect_chw, nonzero_hw};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// `AdaptiveMaxPool2d` when `avg` is false, else `AdaptiveAvgPool2d`.
#[derive(Debug, Clone, Copy)]
pub struct AdaptivePool {
    avg: bool,
}

pub const DOC: &str =
    "| `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d` | `output_size` | `[C, H, W] -> [C, oh, ow]` |";

pub const ADAPTIVE_AVG: AdaptivePool = AdaptivePool { avg: true };
pub const ADAPTIVE_MAX: AdaptivePool = AdaptivePool { avg: false };

const ARGS: &[ArgSpec] = &[ArgSpec::required("output_size")];

impl LayerKind for AdaptivePool {
    fn name(&self) -> &'static str {
        if self.avg {
            "AdaptiveAvgPool2d"
        } else {
            "AdaptiveMaxPool2d"
        }
    }
    fn snake(&self) -> &'static str {
        if self.avg {
            "adaptive_avg_pool2d"
        } else {
            "adaptive_max_pool2d"
        }
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(AdaptiveSpec {
            avg: self.avg,
            out: b.req_hw("output_size")?,
        }))
    }
}

#[derive(Debug)]
struct AdaptiveSpec {
    avg: bool,
    out: Sp<Hw>,
}

impl Node for AdaptiveSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (c, hw) = expect_chw(input, cx.span, cx.label)?;
        nonzero_hw(self.out, "the output size", cx.label)?;
        let code = AdaptiveCode {
            avg: self.avg,
            input: hw,
            output: self.out.v,
        };
        Ok(Inferred::plain(vec![c, self.out.v.0, self.out.v.1], code))
    }
}

#[derive(Debug)]
struct AdaptiveCode {
    avg: bool,
    input: Hw,
    output: Hw,
}

impl Emit for AdaptiveCode {
    /// Runtime order (`runtime/src/layers/adaptive_pool.rs`): `<HI, WI, HO, WO>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let (hi, wi) = (lit(self.input.0), lit(self.input.1));
        let (ho, wo) = (lit(self.output.0), lit(self.output.1));
        LayerCode::new_call(if self.avg {
            quote!(#l::AdaptiveAvgPool2d<#hi, #wi, #ho, #wo>)
        } else {
            quote!(#l::AdaptiveMaxPool2d<#hi, #wi, #ho, #wo>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn output_size() {
        assert_eq!(out("AdaptiveAvgPool2d(1)", &[8, 7, 5]), vec![8, 1, 1]);
        assert_eq!(out("AdaptiveMaxPool2d((3, 2))", &[8, 7, 5]), vec![8, 3, 2]);
        assert!(code("AdaptiveAvgPool2d((3, 2))", &[8, 7, 5])
            .starts_with("L::AdaptiveAvgPool2d<7,5,3,2>"));
        assert!(msg("AdaptiveMaxPool2d((0, 2))", &[8, 7, 5]).contains("at least 1"));
    }
}
