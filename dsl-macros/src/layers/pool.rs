//! `MaxPool2d(kernel, stride = kernel, padding = 0, ceil_mode = false)` and
//! `AvgPool2d(kernel, stride = kernel, padding = 0, ceil_mode = false,
//! count_include_pad = true)`: 2-d pooling `[C, H, W] -> [C, H', W']`
//! (PyTorch's floor rule, or its `ceil_mode`; `padding = same` as in Keras),
//! no parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::{err, lit, lit_bool};
use super::window::{
    axis, axis_name, expect_chw, nonzero_hw, padding_arg, window, Padding, Window, WindowArgs,
    WindowUse,
};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// `MaxPool2d` when `avg` is false, else `AvgPool2d`.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    avg: bool,
}

pub const DOC: &str = "| `MaxPool2d`, `AvgPool2d` | `kernel`, `stride = kernel`, `padding = 0` (or `same`), `ceil_mode = false`, `count_include_pad = true` (avg) | `[C, H, W] -> [C, H', W']` |";

pub const MAX_POOL: Pool = Pool { avg: false };
pub const AVG_POOL: Pool = Pool { avg: true };

const MAX_ARGS: &[ArgSpec] = &[
    ArgSpec::required("kernel"),
    ArgSpec::named("stride", "kernel"),
    ArgSpec::named("padding", "0"),
    ArgSpec::named("ceil_mode", "false"),
];
const AVG_ARGS: &[ArgSpec] = &[
    ArgSpec::required("kernel"),
    ArgSpec::named("stride", "kernel"),
    ArgSpec::named("padding", "0"),
    ArgSpec::named("ceil_mode", "false"),
    ArgSpec::named("count_include_pad", "true"),
];

impl LayerKind for Pool {
    fn name(&self) -> &'static str {
        if self.avg {
            "AvgPool2d"
        } else {
            "MaxPool2d"
        }
    }
    fn snake(&self) -> &'static str {
        if self.avg {
            "avg_pool2d"
        } else {
            "max_pool2d"
        }
    }
    fn args(&self) -> &'static [ArgSpec] {
        if self.avg {
            AVG_ARGS
        } else {
            MAX_ARGS
        }
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let label = b.label;
        let kernel = b.req_hw("kernel")?;
        nonzero_hw(kernel, "the kernel size", label)?;
        let stride = match b.get("stride") {
            Some(v) => b.hw(v, "stride")?,
            None => kernel,
        };
        nonzero_hw(stride, "the stride", label)?;
        let padding = padding_arg(b, &["valid", "same"])?;
        if let Padding::Sym(ph) = padding.v {
            for i in 0..2 {
                let (p, k) = (axis(ph, i), axis(kernel.v, i));
                if p > k / 2 {
                    return Err(err(
                        padding.span,
                        format!(
                            "{label}: padding {} {p} is more than half the kernel {k} (at most {}); hint: use padding = same",
                            axis_name(i),
                            k / 2
                        ),
                    ));
                }
            }
        }
        Ok(Box::new(PoolSpec {
            avg: self.avg,
            kernel,
            stride,
            padding,
            ceil_mode: b.bool_or("ceil_mode", false)?,
            count_include_pad: b.bool_or("count_include_pad", true)?,
        }))
    }
}

#[derive(Debug)]
struct PoolSpec {
    avg: bool,
    kernel: Sp<Hw>,
    stride: Sp<Hw>,
    padding: Sp<Padding>,
    ceil_mode: bool,
    count_include_pad: bool,
}

impl Node for PoolSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (c, hw) = expect_chw(input, cx.span, cx.label)?;
        let args = WindowArgs {
            kernel: self.kernel,
            stride: self.stride,
            dilation: (1, 1),
            padding: self.padding,
            ceil_mode: self.ceil_mode,
        };
        let (w, explain) = window(cx, WindowUse::Pool, input, hw, &args)?;
        Ok(Inferred {
            output: vec![c, w.output.0, w.output.1],
            params: 0,
            macs: 0,
            explain: Some(explain),
            code: Box::new(PoolCode {
                avg: self.avg,
                w,
                ceil_mode: self.ceil_mode,
                count_include_pad: self.count_include_pad,
            }),
        })
    }
}

#[derive(Debug)]
struct PoolCode {
    avg: bool,
    w: Window,
    ceil_mode: bool,
    count_include_pad: bool,
}

impl Emit for PoolCode {
    /// Runtime order (`runtime/src/layers/pool.rs`): `MaxPool2d<KH, KW, SH,
    /// SW, PT, PB, PL, PR, HI, WI, HO, WO[, CEIL]>`, `AvgPool2d<..,
    /// COUNT_INCLUDE_PAD[, CEIL]>`; `CEIL` (default `false`) is written only
    /// when true.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let w = &self.w;
        let (kh, kw, sh, sw) = (
            lit(w.kernel.0),
            lit(w.kernel.1),
            lit(w.stride.0),
            lit(w.stride.1),
        );
        let [pt, pb, pl, pr] = w.pad.map(lit);
        let (hi, wi, ho, wo) = (
            lit(w.input.0),
            lit(w.input.1),
            lit(w.output.0),
            lit(w.output.1),
        );
        let ceil = if self.ceil_mode {
            quote!(, true)
        } else {
            quote!()
        };
        LayerCode::new_call(if self.avg {
            let c = lit_bool(self.count_include_pad);
            quote!(#l::AvgPool2d<#kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr, #hi, #wi, #ho, #wo, #c #ceil>)
        } else {
            quote!(#l::MaxPool2d<#kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr, #hi, #wi, #ho, #wo #ceil>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn shapes() {
        assert_eq!(out("MaxPool2d(2)", &[32, 24, 24]), vec![32, 12, 12]);
        assert_eq!(out("MaxPool2d(2)", &[32, 25, 25]), vec![32, 12, 12]);
        assert_eq!(
            out("MaxPool2d(3, stride = 2, padding = 1)", &[64, 112, 112]),
            vec![64, 56, 56]
        );
        assert_eq!(
            out("MaxPool2d(3, stride = 1, padding = same)", &[8, 28, 28]),
            vec![8, 28, 28]
        );
        assert_eq!(
            out("MaxPool2d(2, padding = same)", &[8, 7, 7]),
            vec![8, 4, 4]
        );
        assert_eq!(
            code("AvgPool2d(3, stride = 2, padding = same, count_include_pad = false)", &[8, 7, 7]),
            "L::AvgPool2d<3,3,2,2,1,1,1,1,7,7,4,4,false><L::AvgPool2d<3,3,2,2,1,1,1,1,7,7,4,4,false>>::new()"
        );
        assert_eq!(
            code(
                "MaxPool2d((3, 2), stride = (2, 1), padding = (1, 0))",
                &[1, 9, 8]
            ),
            "L::MaxPool2d<3,2,2,1,1,1,0,0,9,8,5,7><L::MaxPool2d<3,2,2,1,1,1,0,0,9,8,5,7>>::new()"
        );
    }

    #[test]
    fn ceil_mode_rounds_up_as_pytorch() {
        // GoogLeNet's pools: 112 -> 56 -> 28 (k 3, s 2), 14 -> 7 (k 2, s 2).
        assert_eq!(
            out("MaxPool2d(3, stride = 2, ceil_mode = true)", &[64, 112, 112]),
            vec![64, 56, 56]
        );
        assert_eq!(
            out("MaxPool2d(3, stride = 2)", &[64, 112, 112]),
            vec![64, 55, 55]
        );
        assert_eq!(
            out("MaxPool2d(2, stride = 2, ceil_mode = true)", &[8, 13, 13]),
            vec![8, 7, 7]
        );
        assert_eq!(
            code("MaxPool2d(3, stride = 2, ceil_mode = true)", &[2, 8, 8]),
            "L::MaxPool2d<3,3,2,2,0,0,0,0,8,8,4,4,true><L::MaxPool2d<3,3,2,2,0,0,0,0,8,8,4,4,true>>::new()"
        );
        assert_eq!(
            code("AvgPool2d(2, ceil_mode = true)", &[2, 5, 5]),
            "L::AvgPool2d<2,2,2,2,0,0,0,0,5,5,3,3,true,true><L::AvgPool2d<2,2,2,2,0,0,0,0,5,5,3,3,true,true>>::new()"
        );
        assert!(msg("MaxPool2d(2, ceil_mode = 1)", &[8, 4, 4]).contains("ceil_mode"));
    }

    #[test]
    fn errors() {
        let m = msg("MaxPool2d(3, stride = 1, padding = 2)", &[8, 8, 8]);
        assert!(
            m.contains("padding height 2 is more than half the kernel 3"),
            "{m}"
        );
        let m = msg("MaxPool2d(5, stride = 5)", &[8, 4, 4]);
        assert!(
            m.contains("kernel height 5 is larger than the padded input height 4"),
            "{m}"
        );
        assert!(msg("MaxPool2d(2, stride = 0)", &[8, 4, 4]).contains("stride"));
        assert!(msg("MaxPool2d(2, padding = full)", &[8, 4, 4]).contains("full"));
        assert!(msg("MaxPool2d(pool_size = 2)", &[8, 4, 4]).contains("did you mean `kernel`"));
        assert!(msg("MaxPool2d(2, 2)", &[8, 4, 4]).contains("name the others: `stride = 2`"));
        assert!(msg("MaxPool2d(2)", &[28, 28, 1]).contains("channels-first"));
    }
}
