//! `UpSampling2d(scale, mode = nearest, align_corners = false)`: `[C, H, W]
//! -> [C, H * sh, W * sw]` by an integer factor, nearest or bilinear (PyTorch
//! `nn.Upsample(scale_factor)`), no parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::{err, lit, lit_bool, too_large};
use super::window::{expect_chw, nonzero_hw};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct UpSampling2d;

pub const DOC: &str = "| `UpSampling2d` | `scale`, `mode = nearest` (or `bilinear`), `align_corners = false` | `[C, H, W] -> [C, H * sh, W * sw]` |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("scale"),
    ArgSpec::named("mode", "nearest"),
    ArgSpec::named("align_corners", "false"),
];

impl LayerKind for UpSampling2d {
    fn name(&self) -> &'static str {
        "UpSampling2d"
    }
    fn snake(&self) -> &'static str {
        "up_sampling2d"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let scale = b.req_hw("scale")?;
        let bilinear = match b.get("mode") {
            Some(v) => b.keyword(v, "mode", &["nearest", "bilinear"])? == "bilinear",
            None => false,
        };
        let align_corners = b.bool_or("align_corners", false)?;
        if let (true, false, Some(v)) = (align_corners, bilinear, b.get("align_corners")) {
            return Err(err(
                v.span(),
                format!("{}: align_corners only applies to mode = bilinear", b.label),
            ));
        }
        Ok(Box::new(UpSpec {
            scale,
            bilinear,
            align_corners,
        }))
    }
}

#[derive(Debug)]
struct UpSpec {
    scale: Sp<Hw>,
    bilinear: bool,
    align_corners: bool,
}

impl Node for UpSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (c, hw) = expect_chw(input, cx.span, cx.label)?;
        nonzero_hw(self.scale, "the scale", cx.label)?;
        let big = || too_large(self.scale.span, cx.label);
        let h = sxima_shape::upsample_out(hw.0, self.scale.v.0).ok_or_else(big)?;
        let w = sxima_shape::upsample_out(hw.1, self.scale.v.1).ok_or_else(big)?;
        let mut i = Inferred::plain(
            vec![c, h, w],
            UpCode {
                scale: self.scale.v,
                input: hw,
                output: (h, w),
                bilinear: self.bilinear,
                align_corners: self.align_corners,
            },
        );
        i.explain = Some(format!(
            "height: {} * {} = {h}, width: {} * {} = {w}",
            hw.0, self.scale.v.0, hw.1, self.scale.v.1
        ));
        Ok(i)
    }
}

#[derive(Debug)]
struct UpCode {
    scale: Hw,
    input: Hw,
    output: Hw,
    bilinear: bool,
    align_corners: bool,
}

impl Emit for UpCode {
    /// Runtime order (`runtime/src/layers/upsample.rs`): `UpSampling2d<SH, SW,
    /// HI, WI, HO, WO>`, `UpSampling2dBilinear<SH, SW, HI, WI, HO, WO, ALIGN>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let (sh, sw) = (lit(self.scale.0), lit(self.scale.1));
        let (hi, wi) = (lit(self.input.0), lit(self.input.1));
        let (ho, wo) = (lit(self.output.0), lit(self.output.1));
        LayerCode::new_call(if self.bilinear {
            let a = lit_bool(self.align_corners);
            quote!(#l::UpSampling2dBilinear<#sh, #sw, #hi, #wi, #ho, #wo, #a>)
        } else {
            quote!(#l::UpSampling2d<#sh, #sw, #hi, #wi, #ho, #wo>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn scales() {
        assert_eq!(out("UpSampling2d((2, 3))", &[3, 10, 10]), vec![3, 20, 30]);
        assert!(code(
            "UpSampling2d((2, 1), mode = bilinear, align_corners = true)",
            &[2, 15, 19]
        )
        .starts_with("L::UpSampling2dBilinear<2,1,15,19,30,19,true>"));
        assert!(
            code("UpSampling2d(2)", &[2, 30, 19]).starts_with("L::UpSampling2d<2,2,30,19,60,38>")
        );
        assert!(msg("UpSampling2d((0, 2))", &[3, 10, 10]).contains("scale must be at least 1"));
        assert!(msg("UpSampling2d(2, align_corners = true)", &[3, 10, 10]).contains("bilinear"));
        assert!(
            msg("UpSampling2d(scale_factor = 2)", &[3, 10, 10]).contains("did you mean `scale`")
        );
    }
}
