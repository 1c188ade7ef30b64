//! `Conv2d(filters, kernel, stride = 1, padding = 0, dilation = 1, groups = 1,
//! bias = true)`: 2-d convolution `[C, H, W] -> [filters, H', W']`
//! (PyTorch `nn.Conv2d` with the input channels inferred; padding may also be
//! `valid`, `same` (Keras/TensorFlow), `full` or `((t, b), (l, r))`).

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::{add, err, lit, mul};
use super::window::{
    expect_chw, fmt_hw, nonzero_hw, padding_arg, window, Padding, Window, WindowArgs, WindowUse,
};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct Conv2d;

pub const DOC: &str = "| `Conv2d` | `filters`, `kernel`, `stride = 1`, `padding = 0` (number, pair, `valid`, `same`, `full`, `((t, b), (l, r))`), `dilation = 1`, `groups = 1`, `bias = true` | `[C, H, W] -> [filters, H', W']` |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("filters"),
    ArgSpec::required("kernel"),
    ArgSpec::named("stride", "1"),
    ArgSpec::named("padding", "0"),
    ArgSpec::named("dilation", "1"),
    ArgSpec::named("groups", "1"),
    ArgSpec::named("bias", "true"),
];

impl LayerKind for Conv2d {
    fn name(&self) -> &'static str {
        "Conv2d"
    }
    fn snake(&self) -> &'static str {
        "conv2d"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn inferred_input(&self) -> Option<&'static str> {
        Some("input channels")
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let label = b.label;
        let filters = b.req_uint("filters")?;
        if filters.v == 0 {
            return Err(err(
                filters.span,
                format!("{label}: filters must be at least 1"),
            ));
        }
        let kernel = b.req_hw("kernel")?;
        nonzero_hw(kernel, "the kernel size", label)?;
        let stride = b.hw_or("stride", (1, 1))?;
        nonzero_hw(stride, "the stride", label)?;
        let dilation = b.hw_or("dilation", (1, 1))?;
        nonzero_hw(dilation, "the dilation", label)?;
        let groups = match b.get("groups") {
            Some(v) => b.uint(v, "groups")?,
            None => Sp::new(1, b.span()),
        };
        if groups.v == 0 {
            return Err(err(
                groups.span,
                format!("{label}: groups must be at least 1"),
            ));
        }
        Ok(Box::new(ConvSpec {
            filters,
            kernel,
            stride,
            padding: padding_arg(b, &["valid", "same", "full"])?,
            dilation,
            groups,
            bias: b.bool_or("bias", true)?,
        }))
    }
}

#[derive(Debug)]
struct ConvSpec {
    filters: Sp<u64>,
    kernel: Sp<Hw>,
    stride: Sp<Hw>,
    padding: Sp<Padding>,
    dilation: Sp<Hw>,
    groups: Sp<u64>,
    bias: bool,
}

impl Node for ConvSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let label = cx.label;
        let (ci, hw) = expect_chw(input, cx.span, label)?;
        let (g, co) = (self.groups.v, self.filters.v);
        if ci % g != 0 {
            return Err(err(
                self.groups.span,
                format!(
                    "{label}: the {ci} input channels are not divisible by groups = {g} ({ci} % {g} = {}); hint: use a divisor of {ci}",
                    ci % g
                ),
            ));
        }
        if co % g != 0 {
            return Err(err(
                self.groups.span,
                format!(
                    "{label}: the {co} filters are not divisible by groups = {g} ({co} % {g} = {}); hint: use a multiple of {g} filters",
                    co % g
                ),
            ));
        }
        let args = WindowArgs {
            kernel: self.kernel,
            stride: self.stride,
            dilation: self.dilation.v,
            padding: self.padding,
            ceil_mode: false,
        };
        let (w, explain) = window(cx, WindowUse::Conv, input, hw, &args)?;
        let fs = self.filters.span;
        let per = mul(mul(ci / g, w.kernel.0, fs, label)?, w.kernel.1, fs, label)?;
        let weights = mul(co, per, fs, label)?;
        let params = if self.bias {
            add(weights, co, fs, label)?
        } else {
            weights
        };
        let macs = mul(weights, mul(w.output.0, w.output.1, fs, label)?, fs, label)?;
        Ok(Inferred {
            output: vec![co, w.output.0, w.output.1],
            params,
            macs,
            explain: Some(format!("{explain}{}", keep_hint(&w))),
            code: Box::new(ConvCode {
                ci,
                co,
                groups: g,
                w,
                bias: self.bias,
            }),
        })
    }
}

/// A hint for stride-1 convolutions that shrink the input: the padding that keeps it.
fn keep_hint(w: &Window) -> String {
    if w.stride != (1, 1) || w.output == w.input {
        return String::new();
    }
    let ph = w.dilation.0 * (w.kernel.0.saturating_sub(1));
    let pw = w.dilation.1 * (w.kernel.1.saturating_sub(1));
    if ph.is_multiple_of(2) && pw.is_multiple_of(2) {
        let (ph, pw) = (ph / 2, pw / 2);
        let p = if ph == pw {
            ph.to_string()
        } else {
            format!("({ph}, {pw})")
        };
        format!("; hint: padding = {p} would keep {}", fmt_hw(w.input))
    } else {
        format!("; hint: padding = same would keep {}", fmt_hw(w.input))
    }
}

#[derive(Debug)]
struct ConvCode {
    ci: u64,
    co: u64,
    groups: u64,
    w: Window,
    bias: bool,
}

impl Emit for ConvCode {
    /// Runtime order (`runtime/src/layers/conv2d.rs`): `Conv2d<CI, CO, KH, KW,
    /// SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO, E, D>`, same for
    /// `Conv2dNoBias`; `CIG = CI / G` (stable Rust cannot compute it in a type).
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let w = &self.w;
        let cig = lit(self.ci / self.groups.max(1));
        let (ci, co, g) = (lit(self.ci), lit(self.co), lit(self.groups));
        let (kh, kw, sh, sw) = (
            lit(w.kernel.0),
            lit(w.kernel.1),
            lit(w.stride.0),
            lit(w.stride.1),
        );
        let (dh, dw) = (lit(w.dilation.0), lit(w.dilation.1));
        let [pt, pb, pl, pr] = w.pad.map(lit);
        let (hi, wi, ho, wo) = (
            lit(w.input.0),
            lit(w.input.1),
            lit(w.output.0),
            lit(w.output.1),
        );
        let name = if self.bias {
            quote!(Conv2d)
        } else {
            quote!(Conv2dNoBias)
        };
        LayerCode::visited(
            quote!(#l::#name<#ci, #co, #kh, #kw, #sh, #sw, #dh, #dw, #g, #cig, #pt, #pb, #pl, #pr, #hi, #wi, #ho, #wo, E, D>),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg, out};

    #[test]
    fn same_output_is_ceil_of_input_over_stride() {
        for (input, k, stride) in [
            (28, 5, 1),
            (28, 3, 2),
            (27, 3, 2),
            (10, 3, 3),
            (11, 5, 3),
            (1, 7, 2),
            (224, 7, 2),
        ] {
            let o = out(
                &format!("Conv2d(8, kernel = {k}, stride = {stride}, padding = same)"),
                &[3, input, input],
            );
            let expect = input.div_ceil(stride);
            assert_eq!(o, vec![8, expect, expect], "in {input} k {k} s {stride}");
        }
    }

    #[test]
    fn valid_full_and_explicit_padding() {
        assert_eq!(
            out("Conv2d(32, 5, padding = valid)", &[1, 28, 28]),
            vec![32, 24, 24]
        );
        assert_eq!(out("Conv2d(32, 5)", &[1, 28, 28]), vec![32, 24, 24]);
        assert_eq!(
            out("Conv2d(32, 5, padding = full)", &[1, 28, 28]),
            vec![32, 32, 32]
        );
        assert_eq!(
            out("Conv2d(64, 7, stride = 2, padding = 3)", &[3, 224, 224]),
            vec![64, 112, 112]
        );
        assert_eq!(
            out("Conv2d(4, 3, stride = 2)", &[1, 28, 28]),
            vec![4, 13, 13]
        );
        assert_eq!(
            out(
                "Conv2d(4, (3, 5), padding = ((1, 0), (2, 2)))",
                &[1, 10, 10]
            ),
            vec![4, 9, 10]
        );
    }

    #[test]
    fn dilation_groups_params_and_macs() {
        assert_eq!(
            out("Conv2d(16, 3, dilation = (2, 3))", &[4, 20, 20]),
            vec![16, 16, 14]
        );
        assert_eq!(
            out("Conv2d(16, 3, dilation = 2, padding = same)", &[4, 20, 20]),
            vec![16, 20, 20]
        );
        assert_eq!(
            out("Conv2d(16, 3, dilation = 2, padding = full)", &[4, 20, 20]),
            vec![16, 24, 24]
        );
        let i = infer("Conv2d(8, 3, padding = 1, groups = 4)", &[4, 8, 8]).unwrap();
        assert_eq!(i.params, 8 * 3 * 3 + 8);
        assert_eq!(i.macs, 8 * 3 * 3 * 8 * 8);
        let i = infer("Conv2d(32, 5)", &[1, 28, 28]).unwrap();
        assert_eq!((i.params, i.macs), (32 * 25 + 32, 32 * 25 * 24 * 24));
        assert_eq!(
            infer("Conv2d(64, 3, bias = false)", &[32, 8, 8])
                .unwrap()
                .params,
            64 * 32 * 9
        );
    }

    #[test]
    fn code_carries_every_size_in_runtime_order() {
        // CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO.
        assert_eq!(
            code("Conv2d(8, (3, 1), stride = 2, padding = same, dilation = (1, 2), groups = 4, bias = false)", &[32, 12, 12]),
            "L::Conv2dNoBias<32,8,3,1,2,2,1,2,4,8,0,1,0,0,12,12,6,6,E,D>"
        );
        assert_eq!(
            code("Conv2d(32, 5)", &[1, 28, 28]),
            "L::Conv2d<1,32,5,5,1,1,1,1,1,1,0,0,0,0,28,28,24,24,E,D>"
        );
    }

    #[test]
    fn errors_carry_numbers_and_hints() {
        let m = msg("Conv2d(8, 5)", &[1, 3, 3]);
        assert!(
            m.contains("kernel height 5 is larger than the padded input height 3"),
            "{m}"
        );
        assert!(m.contains("padding = 1"), "{m}");
        assert!(msg("Conv2d(8, 3, dilation = (3, 1))", &[1, 6, 6]).contains("effective size 7"));
        let m = msg("Conv2d(8, 3, groups = 3)", &[4, 8, 8]);
        assert!(
            m.contains("4 input channels are not divisible by groups = 3"),
            "{m}"
        );
        let m = msg("Conv2d(6, 3, groups = 4)", &[4, 8, 8]);
        assert!(
            m.contains("6 filters are not divisible by groups = 4"),
            "{m}"
        );
        assert!(msg("Conv2d(8, 3, stride = 0)", &[1, 8, 8]).contains("stride must be at least 1"));
        assert!(msg("Conv2d(8, 0)", &[1, 8, 8]).contains("kernel size must be at least 1"));
        assert!(msg("Conv2d(8, 3, dilation = (0, 1))", &[1, 8, 8])
            .contains("dilation must be at least 1"));
        assert!(msg("Conv2d(8, 3, groups = 0)", &[1, 8, 8]).contains("groups must be at least 1"));
        assert!(msg("Conv2d(8, 3)", &[784])
            .contains("expects a [channels, height, width] input but got [784]"));
        assert!(msg("Conv2d(0, 3)", &[1, 8, 8]).contains("filters"));
        let big = u64::MAX / 2;
        assert!(msg(&format!("Conv2d({big}, 3, padding = 1)"), &[big, 8, 8]).contains("too large"));
    }

    #[test]
    fn pytorch_order_and_channels_last() {
        let m = msg("Conv2d(1, 32, 3)", &[1, 28, 28]);
        assert!(m.contains("l: X takes (filters, kernel)"), "{m}");
        assert!(m.contains("the input channels (1) are inferred"), "{m}");
        assert!(m.contains("did you mean `Conv2d(32, kernel = 3)`?"), "{m}");
        let m = msg("Conv2d(3, 64, 7, 2, 3)", &[3, 224, 224]);
        assert!(
            m.contains("`Conv2d(64, kernel = 7, stride = 2, padding = 3)`"),
            "{m}"
        );
        // Not PyTorch's order: the extra argument should be named.
        let m = msg("Conv2d(32, 3, 2)", &[1, 28, 28]);
        assert!(m.contains("name the others: `stride = 2`"), "{m}");
        let m = msg("Conv2d(1, 32, kernel = 3)", &[1, 28, 28]);
        assert!(m.contains("did you mean `Conv2d(32, kernel = 3)`?"), "{m}");
        assert!(msg("Conv2d(8, 32, kernel = 3)", &[1, 28, 28]).contains("given twice"));
        let m = msg("Conv2d(32, 3)", &[28, 28, 1]);
        assert!(
            m.contains("channels-first [C, H, W]: write [1, 28, 28]"),
            "{m}"
        );
        // Fits as [C, H, W], but a square RGB image is the likely meaning.
        let m = msg("Conv2d(16, 3, padding = 1)", &[32, 32, 3]);
        assert!(m.contains("write [3, 32, 32]"), "{m}");
        // Not square, fits: a plausible [C, H, W] feature map.
        assert_eq!(out("Conv2d(4, 3)", &[16, 9, 3]), vec![4, 7, 1]);
        assert_eq!(out("Conv2d(4, 1)", &[3, 8, 8]), vec![4, 8, 8]);
        assert!(msg("Conv2d(32, kernel_size = 3)", &[1, 8, 8]).contains("did you mean `kernel`"));
        assert!(msg("Conv2d(32, 3, strides = 2)", &[1, 8, 8]).contains("did you mean `stride`"));
        assert!(msg("Conv2d(32, 3, in_channels = 1)", &[1, 8, 8]).contains("infers it"));
    }

    #[test]
    fn explain_reports_stride_remainder_and_keep_hint() {
        let e = infer("Conv2d(4, 3, stride = 2)", &[1, 28, 28])
            .unwrap()
            .explain
            .unwrap();
        assert_eq!(
            e,
            "height and width: (28 + 0 + 0 - 3) / 2 + 1 = 13 (stride 2 leaves the last padded line 28 unused)"
        );
        let e = infer("Conv2d(4, (3, 2), stride = 3)", &[1, 28, 28])
            .unwrap()
            .explain
            .unwrap();
        assert_eq!(
            e,
            "height: (28 + 0 + 0 - 3) / 3 + 1 = 9 (stride 3 leaves the last padded line 28 unused), \
             width: (28 + 0 + 0 - 2) / 3 + 1 = 9 (stride 3 leaves the last padded lines 27..28 unused)"
        );
        let e = infer("Conv2d(64, 5)", &[32, 12, 12])
            .unwrap()
            .explain
            .unwrap();
        assert!(e.contains("padding = 2 would keep 12x12"), "{e}");
    }
}
