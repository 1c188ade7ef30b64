//! `ConvTranspose2d(filters, kernel, stride = 1, padding = 0,
//! output_padding = 0)`: transposed convolution `[C, H, W] -> [filters, H',
//! W']`, `H' = (H - 1) * stride - 2 * padding + kernel + output_padding`
//! (PyTorch `nn.ConvTranspose2d`, groups and dilation 1).

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Hw, Sp};
use super::common::{add, err, lit, mul};
use super::window::{axis, axis_name, expect_chw, nonzero_hw};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct ConvTranspose2d;

pub const DOC: &str = "| `ConvTranspose2d` | `filters`, `kernel`, `stride = 1`, `padding = 0`, `output_padding = 0` | `[C, H, W] -> [filters, H', W']` |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("filters"),
    ArgSpec::required("kernel"),
    ArgSpec::named("stride", "1"),
    ArgSpec::named("padding", "0"),
    ArgSpec::named("output_padding", "0"),
];

impl LayerKind for ConvTranspose2d {
    fn name(&self) -> &'static str {
        "ConvTranspose2d"
    }
    fn snake(&self) -> &'static str {
        "conv_transpose2d"
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
        Ok(Box::new(ConvTSpec {
            filters,
            kernel,
            stride,
            padding: b.hw_or("padding", (0, 0))?,
            output_padding: b.hw_or("output_padding", (0, 0))?,
        }))
    }
}

#[derive(Debug)]
struct ConvTSpec {
    filters: Sp<u64>,
    kernel: Sp<Hw>,
    stride: Sp<Hw>,
    padding: Sp<Hw>,
    output_padding: Sp<Hw>,
}

impl Node for ConvTSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let label = cx.label;
        let (ci, hw) = expect_chw(input, cx.span, label)?;
        let mut out = [0u64; 2];
        let mut explain = Vec::new();
        for (i, o) in out.iter_mut().enumerate() {
            let (inp, k, s) = (axis(hw, i), axis(self.kernel.v, i), axis(self.stride.v, i));
            let (p, op) = (axis(self.padding.v, i), axis(self.output_padding.v, i));
            if op >= s {
                return Err(err(
                    self.output_padding.span,
                    format!(
                        "{label}: output_padding {} {op} must be smaller than the stride {s}",
                        axis_name(i)
                    ),
                ));
            }
            let formula = format!("({inp} - 1) * {s} - 2 * {p} + ({k} - 1) + {op} + 1");
            match sxima_shape::transpose_out(inp, k, s, p, op) {
                Some(v) => {
                    *o = v;
                    explain.push(format!("{}: {formula} = {v}", axis_name(i)));
                }
                None => {
                    return Err(err(
                        self.padding.span,
                        format!(
                            "{label}: output {} {formula} is below 1; hint: reduce the padding",
                            axis_name(i)
                        ),
                    ))
                }
            }
        }
        let (co, fs) = (self.filters.v, self.filters.span);
        let weights = mul(
            mul(mul(ci, co, fs, label)?, self.kernel.v.0, fs, label)?,
            self.kernel.v.1,
            fs,
            label,
        )?;
        // Every input pixel scatters one kernel per (input, output) channel pair.
        let macs = mul(weights, mul(hw.0, hw.1, fs, label)?, fs, label)?;
        Ok(Inferred {
            output: vec![co, out[0], out[1]],
            params: add(weights, co, fs, label)?,
            macs,
            explain: Some(explain.join(", ")),
            code: Box::new(ConvTCode {
                ci,
                co,
                kernel: self.kernel.v,
                stride: self.stride.v,
                padding: self.padding.v,
                output_padding: self.output_padding.v,
                input: hw,
                output: (out[0], out[1]),
            }),
        })
    }
}

#[derive(Debug)]
struct ConvTCode {
    ci: u64,
    co: u64,
    kernel: Hw,
    stride: Hw,
    padding: Hw,
    output_padding: Hw,
    input: Hw,
    output: Hw,
}

impl Emit for ConvTCode {
    /// Runtime order (`runtime/src/layers/conv_transpose2d.rs`):
    /// `ConvTranspose2d<CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO, E, D>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let (ci, co) = (lit(self.ci), lit(self.co));
        let (kh, kw, sh, sw) = (
            lit(self.kernel.0),
            lit(self.kernel.1),
            lit(self.stride.0),
            lit(self.stride.1),
        );
        let (ph, pw) = (lit(self.padding.0), lit(self.padding.1));
        let (oph, opw) = (lit(self.output_padding.0), lit(self.output_padding.1));
        let (hi, wi) = (lit(self.input.0), lit(self.input.1));
        let (ho, wo) = (lit(self.output.0), lit(self.output.1));
        LayerCode::visited(
            quote!(#l::ConvTranspose2d<#ci, #co, #kh, #kw, #sh, #sw, #ph, #pw, #oph, #opw, #hi, #wi, #ho, #wo, E, D>),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg, out};

    #[test]
    fn formula_params_code_and_errors() {
        assert_eq!(
            out(
                "ConvTranspose2d(16, 4, stride = 2, padding = 1)",
                &[32, 7, 7]
            ),
            vec![16, 14, 14]
        );
        let i = infer(
            "ConvTranspose2d(16, 4, stride = 2, padding = 1)",
            &[32, 7, 7],
        )
        .unwrap();
        assert_eq!(i.params, 32 * 16 * 16 + 16);
        assert_eq!(
            code("ConvTranspose2d(2, (4, 3), stride = (2, 1), padding = (1, 0), output_padding = (1, 0))", &[4, 7, 5]),
            "L::ConvTranspose2d<4,2,4,3,2,1,1,0,1,0,7,5,15,7,E,D>"
        );
        let m = msg(
            "ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 2)",
            &[32, 7, 7],
        );
        assert!(
            m.contains("output_padding height 2 must be smaller than the stride 2"),
            "{m}"
        );
        let m = msg("ConvTranspose2d(16, 1, padding = 3)", &[32, 2, 2]);
        assert!(m.contains("below 1"), "{m}");
        assert!(m.contains("(2 - 1) * 1 - 2 * 3 + (1 - 1) + 0 + 1"), "{m}");
        let m = msg("ConvTranspose2d(8, 16, 3)", &[8, 7, 7]);
        assert!(m.contains("`ConvTranspose2d(16, kernel = 3)`"), "{m}");
    }
}
