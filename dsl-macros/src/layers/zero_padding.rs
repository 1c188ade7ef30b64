//! `ZeroPadding2d(padding)`: `[C, H, W] -> [C, H + t + b, W + l + r]`, with
//! `padding` written `p`, `(ph, pw)` or `((t, b), (l, r))` (Keras), no
//! parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::{lit, too_large};
use super::window::expect_chw;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct ZeroPadding2d;

pub const DOC: &str = "| `ZeroPadding2d` | `padding`: `p`, `(ph, pw)` or `((t, b), (l, r))` | `[C, H, W] -> [C, H + t + b, W + l + r]` |";

const ARGS: &[ArgSpec] = &[ArgSpec::required("padding")];

impl LayerKind for ZeroPadding2d {
    fn name(&self) -> &'static str {
        "ZeroPadding2d"
    }
    fn snake(&self) -> &'static str {
        "zero_padding2d"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let v = b.req("padding")?;
        let pad = b.four(
            v,
            "padding",
            "a number, a pair (h, w) or ((top, bottom), (left, right))",
        )?;
        Ok(Box::new(PadSpec {
            pad: Sp::new(pad, v.span()),
        }))
    }
}

#[derive(Debug)]
struct PadSpec {
    pad: Sp<[u64; 4]>,
}

impl Node for PadSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (c, hw) = expect_chw(input, cx.span, cx.label)?;
        let [t, b, l, r] = self.pad.v;
        let big = || too_large(self.pad.span, cx.label);
        let h = sxima_shape::padded(hw.0, t, b).ok_or_else(big)?;
        let w = sxima_shape::padded(hw.1, l, r).ok_or_else(big)?;
        let mut i = Inferred::plain(
            vec![c, h, w],
            PadCode {
                pad: self.pad.v,
                input: hw,
                output: (h, w),
            },
        );
        i.explain = Some(format!(
            "height: {} + {t} + {b} = {h}, width: {} + {l} + {r} = {w}",
            hw.0, hw.1
        ));
        Ok(i)
    }
}

#[derive(Debug)]
struct PadCode {
    pad: [u64; 4],
    input: Hw,
    output: Hw,
}

impl Emit for PadCode {
    /// Runtime order (`runtime/src/layers/zero_padding.rs`): `<PT, PB, PL, PR, HI, WI, HO, WO>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let [pt, pb, pl, pr] = self.pad.map(lit);
        let (hi, wi) = (lit(self.input.0), lit(self.input.1));
        let (ho, wo) = (lit(self.output.0), lit(self.output.1));
        LayerCode::new_call(quote!(#l::ZeroPadding2d<#pt, #pb, #pl, #pr, #hi, #wi, #ho, #wo>))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn pads() {
        assert_eq!(
            out("ZeroPadding2d(((1, 2), (3, 4)))", &[3, 10, 10]),
            vec![3, 13, 17]
        );
        assert_eq!(out("ZeroPadding2d((1, 2))", &[3, 10, 10]), vec![3, 12, 14]);
        assert!(code("ZeroPadding2d(((1, 0), (2, 3)))", &[4, 14, 14])
            .starts_with("L::ZeroPadding2d<1,0,2,3,14,14,15,19>"));
        assert!(msg("ZeroPadding2d(((1, 2, 3), (3, 4)))", &[3, 10, 10]).contains("padding"));
    }
}
