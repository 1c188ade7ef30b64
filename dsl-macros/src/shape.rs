//! Shape inference: from a typed layer description ([`Spec`]) and the
//! per-sample input shape, compute the output shape, the parameter count and
//! every number the generated type needs ([`Resolved`]).
//!
//! Pure functions on plain data: no proc-macro machinery, so everything here
//! is unit-tested directly. Errors are `syn::Error`s carrying the span of the
//! token they are about (a layer name or one argument). All arithmetic is
//! checked; an overflow is a "too large" error, never a panic.

use proc_macro2::Span;

/// A value with the span of the token it came from.
#[derive(Debug, Clone, Copy)]
pub struct Sp<T> {
    pub v: T,
    pub span: Span,
}

/// Compares the values only; spans are positions, not data.
impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v
    }
}

impl<T> Sp<T> {
    pub fn new(v: T, span: Span) -> Self {
        Sp { v, span }
    }
}

/// A height/width pair.
pub type Hw = (u64, u64);

/// Padding of a 2-d convolution or pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `padding = p` or `(ph, pw)`: the same amount before and after.
    Sym(Hw),
    /// `((top, bottom), (left, right))`.
    Explicit { t: u64, b: u64, l: u64, r: u64 },
    /// No padding.
    Valid,
    /// Keras/TensorFlow `same`: output = ceil(input / stride), extra row/column at the bottom/right.
    Same,
    /// `dilation * (kernel - 1)` on each side.
    Full,
}

/// Element-wise activations without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    ReLU,
    Sigmoid,
    Tanh,
    Softmax,
    LogSoftmax,
    GeLU,
    SiLU,
}

impl Activation {
    /// The runtime type name in `sxima_runtime::layers`.
    pub fn type_name(self) -> &'static str {
        match self {
            Activation::ReLU => "ReLU",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax => "Softmax",
            Activation::LogSoftmax => "LogSoftmax",
            Activation::GeLU => "GeLU",
            Activation::SiLU => "SiLU",
        }
    }
}

/// `Conv2d(..)` arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvSpec {
    pub filters: Sp<u64>,
    pub kernel: Sp<Hw>,
    pub stride: Sp<Hw>,
    pub padding: Sp<Padding>,
    pub dilation: Sp<Hw>,
    pub groups: Sp<u64>,
    pub bias: bool,
}

/// `ConvTranspose2d(..)` arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvTSpec {
    pub filters: Sp<u64>,
    pub kernel: Sp<Hw>,
    pub stride: Sp<Hw>,
    pub padding: Sp<Hw>,
    pub output_padding: Sp<Hw>,
}

/// `MaxPool2d(..)` / `AvgPool2d(..)` arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSpec {
    pub kernel: Sp<Hw>,
    pub stride: Sp<Hw>,
    pub padding: Sp<Padding>,
}

/// A layer with its arguments checked for type, not yet for shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Dense {
        units: Sp<u64>,
        bias: bool,
    },
    Activation(Activation),
    LeakyReLU {
        alpha: f64,
    },
    Dropout {
        p: Sp<f64>,
    },
    BatchNorm1d,
    BatchNorm2d,
    Flatten,
    Conv2d(ConvSpec),
    ConvTranspose2d(ConvTSpec),
    MaxPool2d(PoolSpec),
    AvgPool2d {
        pool: PoolSpec,
        count_include_pad: bool,
    },
    GlobalAvgPool,
    GlobalMaxPool,
    AdaptiveAvgPool2d {
        out: Sp<Hw>,
    },
    AdaptiveMaxPool2d {
        out: Sp<Hw>,
    },
    ZeroPadding2d {
        pad: Sp<[u64; 4]>,
    },
    UpSampling2d {
        scale: Sp<Hw>,
        bilinear: bool,
        align_corners: bool,
    },
}

/// The numbers of a resolved 2-d window (conv or pool): `[C, H, W]` in, `[C', HO, WO]` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub kernel: Hw,
    pub stride: Hw,
    pub dilation: Hw,
    /// top, bottom, left, right.
    pub pad: [u64; 4],
    pub input: Hw,
    pub output: Hw,
}

/// Everything the code generator needs for one layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Dense {
        i: u64,
        o: u64,
        bias: bool,
    },
    Activation(Activation),
    LeakyReLU {
        alpha: f64,
    },
    Dropout {
        p: f64,
    },
    BatchNorm1d {
        c: u64,
    },
    BatchNorm2d {
        c: u64,
    },
    Flatten {
        n: u64,
    },
    Conv2d {
        ci: u64,
        co: u64,
        groups: u64,
        w: Window,
        bias: bool,
    },
    ConvTranspose2d {
        ci: u64,
        co: u64,
        w: Window,
        output_padding: Hw,
    },
    MaxPool2d {
        w: Window,
    },
    AvgPool2d {
        w: Window,
        count_include_pad: bool,
    },
    GlobalAvgPool,
    GlobalMaxPool,
    AdaptiveAvgPool2d {
        input: Hw,
        output: Hw,
    },
    AdaptiveMaxPool2d {
        input: Hw,
        output: Hw,
    },
    ZeroPadding2d {
        pad: [u64; 4],
        input: Hw,
        output: Hw,
    },
    UpSampling2d {
        scale: Hw,
        input: Hw,
        output: Hw,
        bilinear: bool,
        align_corners: bool,
    },
}

/// The result of inferring one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub output: Vec<u64>,
    pub params: u64,
    pub resolved: Resolved,
    /// How the output was computed, for error messages (`"H: (28 + 0 + 0 - 5) / 1 + 1 = 24"`).
    pub explain: Option<String>,
}

fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

fn too_large(span: Span, label: &str) -> syn::Error {
    err(span, format!("{label}: a size is too large to compute"))
}

/// Formats a shape as `[a, b, c]`.
pub fn fmt_shape(shape: &[u64]) -> String {
    let parts: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

fn add(a: u64, b: u64, span: Span, label: &str) -> syn::Result<u64> {
    a.checked_add(b).ok_or_else(|| too_large(span, label))
}

fn mul(a: u64, b: u64, span: Span, label: &str) -> syn::Result<u64> {
    a.checked_mul(b).ok_or_else(|| too_large(span, label))
}

/// Product of dims, checked.
pub fn product(dims: &[u64], span: Span, label: &str) -> syn::Result<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| mul(acc, d, span, label))
}

/// Keras/TensorFlow `same` padding along one axis: `(before, after)`.
///
/// The output is `ceil(input / stride)`; the total padding is
/// `max((out - 1) * stride + dilation * (kernel - 1) + 1 - input, 0)`, split
/// with the odd one at the end (bottom/right). `None` on overflow or a zero
/// stride.
pub fn same_padding(input: u64, kernel: u64, stride: u64, dilation: u64) -> Option<(u64, u64)> {
    if stride == 0 || kernel == 0 {
        return None;
    }
    let out = input.div_ceil(stride);
    let eff = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    let need = out
        .saturating_sub(1)
        .checked_mul(stride)?
        .checked_add(eff)?;
    let total = need.saturating_sub(input);
    let before = total / 2;
    Some((before, total - before))
}

/// Why one axis of a window does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisError {
    /// The (dilated) kernel is larger than the padded input.
    KernelTooLarge {
        effective: u64,
        padded: u64,
    },
    Overflow,
}

/// Output size along one axis of a convolution or pooling window:
/// `floor((input + before + after - dilation * (kernel - 1) - 1) / stride) + 1`.
pub fn window_out(
    input: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    before: u64,
    after: u64,
) -> Result<u64, AxisError> {
    let padded = input
        .checked_add(before)
        .and_then(|v| v.checked_add(after))
        .ok_or(AxisError::Overflow)?;
    let effective = dilation
        .checked_mul(kernel.saturating_sub(1))
        .and_then(|v| v.checked_add(1))
        .ok_or(AxisError::Overflow)?;
    if effective > padded {
        return Err(AxisError::KernelTooLarge { effective, padded });
    }
    if stride == 0 {
        return Err(AxisError::Overflow);
    }
    Ok((padded - effective) / stride + 1)
}

/// Output size along one axis of a transposed convolution:
/// `(input - 1) * stride - 2 * padding + (kernel - 1) + output_padding + 1`,
/// `None` when it would be below 1 (or overflows).
pub fn transpose_out(
    input: u64,
    kernel: u64,
    stride: u64,
    padding: u64,
    output_padding: u64,
) -> Option<u64> {
    let grown = input
        .checked_sub(1)?
        .checked_mul(stride)?
        .checked_add(kernel.checked_sub(1)?)?
        .checked_add(output_padding)?
        .checked_add(1)?;
    let shrink = padding.checked_mul(2)?;
    let out = grown.checked_sub(shrink)?;
    if out == 0 {
        None
    } else {
        Some(out)
    }
}

const AXES: [&str; 2] = ["height", "width"];

fn axis(hw: Hw, i: usize) -> u64 {
    if i == 0 {
        hw.0
    } else {
        hw.1
    }
}

fn pick(hw: Hw, i: usize) -> u64 {
    axis(hw, i)
}

fn fmt_hw(hw: Hw) -> String {
    format!("{}x{}", hw.0, hw.1)
}

fn expect_chw(input: &[u64], span: Span, label: &str) -> syn::Result<(u64, Hw)> {
    match input {
        [c, h, w] => Ok((*c, (*h, *w))),
        _ => Err(err(
            span,
            format!(
                "{label} expects a [channels, height, width] input but got {}",
                fmt_shape(input)
            ),
        )),
    }
}

fn nonzero_hw(v: Sp<Hw>, what: &str, label: &str) -> syn::Result<()> {
    if v.v.0 == 0 || v.v.1 == 0 {
        return Err(err(
            v.span,
            format!("{label}: {what} must be at least 1, got {}", fmt_hw(v.v)),
        ));
    }
    Ok(())
}

/// Resolves a [`Padding`] into `[top, bottom, left, right]` for a window.
fn resolve_padding(
    padding: Padding,
    input: Hw,
    kernel: Hw,
    stride: Hw,
    dilation: Hw,
) -> Option<[u64; 4]> {
    Some(match padding {
        Padding::Sym((h, w)) => [h, h, w, w],
        Padding::Explicit { t, b, l, r } => [t, b, l, r],
        Padding::Valid => [0; 4],
        Padding::Same => {
            let (t, b) = same_padding(input.0, kernel.0, stride.0, dilation.0)?;
            let (l, r) = same_padding(input.1, kernel.1, stride.1, dilation.1)?;
            [t, b, l, r]
        }
        Padding::Full => {
            let h = dilation.0.checked_mul(kernel.0.checked_sub(1)?)?;
            let w = dilation.1.checked_mul(kernel.1.checked_sub(1)?)?;
            [h, h, w, w]
        }
    })
}

/// Computes the output of a 2-d window, with errors naming the numbers.
fn window(
    label: &str,
    kind: &str,
    input: Hw,
    kernel: Sp<Hw>,
    stride: Sp<Hw>,
    dilation: Hw,
    padding: Sp<Padding>,
) -> syn::Result<(Window, String)> {
    let pad = resolve_padding(padding.v, input, kernel.v, stride.v, dilation)
        .ok_or_else(|| too_large(padding.span, label))?;
    let mut out = [0u64; 2];
    let mut explain = Vec::new();
    for i in 0..2 {
        let (inp, k, s, d) = (
            axis(input, i),
            pick(kernel.v, i),
            pick(stride.v, i),
            pick(dilation, i),
        );
        let (pb, pa) = (pad[2 * i], pad[2 * i + 1]);
        match window_out(inp, k, s, d, pb, pa) {
            Ok(o) => {
                out[i] = o;
                // `window_out` succeeded, so the effective kernel did not overflow.
                let eff = d.saturating_mul(k - 1).saturating_add(1);
                let padded = inp.saturating_add(pb).saturating_add(pa);
                let rem = padded.saturating_sub(eff) % s.max(1);
                let dropped = match rem {
                    0 => String::new(),
                    1 => format!(" (stride {s} leaves the last padded line {padded} unused)"),
                    _ => format!(
                        " (stride {s} leaves the last padded lines {}..{padded} unused)",
                        padded - rem + 1
                    ),
                };
                explain.push(format!(
                    "({inp} + {pb} + {pa} - {eff}) / {s} + 1 = {o}{dropped}"
                ));
            }
            Err(AxisError::Overflow) => return Err(too_large(kernel.span, label)),
            Err(AxisError::KernelTooLarge { effective, padded }) => {
                let dil = if d == 1 {
                    String::new()
                } else {
                    format!(" (dilation {d}: effective size {effective})")
                };
                let hint = if kind == "pool" {
                    format!("; hint: use a kernel of at most {padded}")
                } else {
                    let fit = (effective - inp).div_ceil(2);
                    format!("; hint: padding = {fit} makes it fit, padding = same keeps {inp}")
                };
                return Err(err(
                    kernel.span,
                    format!(
                        "{label}: kernel {} {k}{dil} is larger than the padded input {} {padded} ({inp} + padding {pb} + {pa}){hint}",
                        AXES[i], AXES[i]
                    ),
                ));
            }
        }
    }
    Ok((
        Window {
            kernel: kernel.v,
            stride: stride.v,
            dilation,
            pad,
            input,
            output: (out[0], out[1]),
        },
        join_axes(&explain),
    ))
}

/// `"height and width: X"` when both axes compute the same, else `"height: X, width: Y"`.
fn join_axes(parts: &[String]) -> String {
    match parts {
        [h, w] if h == w => format!("height and width: {h}"),
        [h, w] => format!("height: {h}, width: {w}"),
        _ => parts.join(", "),
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

/// Infers one layer. `label` names it in messages (`"conv1: Conv2d"`),
/// `span` is where shape errors about the whole layer point.
pub fn infer_layer(spec: &Spec, input: &[u64], label: &str, span: Span) -> syn::Result<Inferred> {
    let simple = |resolved: Resolved| Inferred {
        output: input.to_vec(),
        params: 0,
        resolved,
        explain: None,
    };
    match spec {
        Spec::Dense { units, bias } => {
            let [i] = input else {
                let hint = if input.len() > 1 {
                    "; add Flatten before it"
                } else {
                    ""
                };
                return Err(err(
                    span,
                    format!(
                        "{label} expects a flat [features] input but got {}{hint}",
                        fmt_shape(input)
                    ),
                ));
            };
            if units.v == 0 {
                return Err(err(
                    units.span,
                    format!("{label}: units must be at least 1"),
                ));
            }
            let mut params = mul(*i, units.v, units.span, label)?;
            if *bias {
                params = add(params, units.v, units.span, label)?;
            }
            Ok(Inferred {
                output: vec![units.v],
                params,
                resolved: Resolved::Dense {
                    i: *i,
                    o: units.v,
                    bias: *bias,
                },
                explain: None,
            })
        }
        Spec::Activation(a) => Ok(simple(Resolved::Activation(*a))),
        Spec::LeakyReLU { alpha } => Ok(simple(Resolved::LeakyReLU { alpha: *alpha })),
        Spec::Dropout { p } => {
            if !(0.0..1.0).contains(&p.v) {
                return Err(err(
                    p.span,
                    format!(
                        "{label}: the drop probability must be in [0, 1), got {}",
                        p.v
                    ),
                ));
            }
            Ok(simple(Resolved::Dropout { p: p.v }))
        }
        Spec::BatchNorm1d => {
            let c = match input {
                [c] | [c, _] => *c,
                _ => {
                    return Err(err(
                        span,
                        format!(
                            "{label} expects [features] or [channels, length] but got {}; use BatchNorm2d for images",
                            fmt_shape(input)
                        ),
                    ))
                }
            };
            Ok(Inferred {
                output: input.to_vec(),
                params: mul(c, 2, span, label)?,
                resolved: Resolved::BatchNorm1d { c },
                explain: None,
            })
        }
        Spec::BatchNorm2d => {
            let (c, _) = expect_chw(input, span, label)?;
            Ok(Inferred {
                output: input.to_vec(),
                params: mul(c, 2, span, label)?,
                resolved: Resolved::BatchNorm2d { c },
                explain: None,
            })
        }
        Spec::Flatten => {
            if input.len() > 4 {
                return Err(err(
                    span,
                    format!(
                        "{label} supports inputs of 1 to 4 dims, got {}",
                        fmt_shape(input)
                    ),
                ));
            }
            let n = product(input, span, label)?;
            Ok(Inferred {
                output: vec![n],
                params: 0,
                resolved: Resolved::Flatten { n },
                explain: None,
            })
        }
        Spec::Conv2d(c) => infer_conv(c, input, label, span),
        Spec::ConvTranspose2d(c) => infer_conv_t(c, input, label, span),
        Spec::MaxPool2d(p) => {
            let (c, w, explain) = infer_pool(p, input, label, span)?;
            Ok(Inferred {
                output: vec![c, w.output.0, w.output.1],
                params: 0,
                resolved: Resolved::MaxPool2d { w },
                explain: Some(explain),
            })
        }
        Spec::AvgPool2d {
            pool,
            count_include_pad,
        } => {
            let (c, w, explain) = infer_pool(pool, input, label, span)?;
            Ok(Inferred {
                output: vec![c, w.output.0, w.output.1],
                params: 0,
                resolved: Resolved::AvgPool2d {
                    w,
                    count_include_pad: *count_include_pad,
                },
                explain: Some(explain),
            })
        }
        Spec::GlobalAvgPool | Spec::GlobalMaxPool => {
            let (c, _) = expect_chw(input, span, label)?;
            Ok(Inferred {
                output: vec![c],
                params: 0,
                resolved: if matches!(spec, Spec::GlobalAvgPool) {
                    Resolved::GlobalAvgPool
                } else {
                    Resolved::GlobalMaxPool
                },
                explain: None,
            })
        }
        Spec::AdaptiveAvgPool2d { out } | Spec::AdaptiveMaxPool2d { out } => {
            let (c, hw) = expect_chw(input, span, label)?;
            nonzero_hw(*out, "the output size", label)?;
            let resolved = if matches!(spec, Spec::AdaptiveAvgPool2d { .. }) {
                Resolved::AdaptiveAvgPool2d {
                    input: hw,
                    output: out.v,
                }
            } else {
                Resolved::AdaptiveMaxPool2d {
                    input: hw,
                    output: out.v,
                }
            };
            Ok(Inferred {
                output: vec![c, out.v.0, out.v.1],
                params: 0,
                resolved,
                explain: None,
            })
        }
        Spec::ZeroPadding2d { pad } => {
            let (c, hw) = expect_chw(input, span, label)?;
            let [t, b, l, r] = pad.v;
            let h = add(add(hw.0, t, pad.span, label)?, b, pad.span, label)?;
            let w = add(add(hw.1, l, pad.span, label)?, r, pad.span, label)?;
            Ok(Inferred {
                output: vec![c, h, w],
                params: 0,
                resolved: Resolved::ZeroPadding2d {
                    pad: pad.v,
                    input: hw,
                    output: (h, w),
                },
                explain: Some(format!(
                    "height: {} + {t} + {b} = {h}, width: {} + {l} + {r} = {w}",
                    hw.0, hw.1
                )),
            })
        }
        Spec::UpSampling2d {
            scale,
            bilinear,
            align_corners,
        } => {
            let (c, hw) = expect_chw(input, span, label)?;
            nonzero_hw(*scale, "the scale", label)?;
            let h = mul(hw.0, scale.v.0, scale.span, label)?;
            let w = mul(hw.1, scale.v.1, scale.span, label)?;
            Ok(Inferred {
                output: vec![c, h, w],
                params: 0,
                resolved: Resolved::UpSampling2d {
                    scale: scale.v,
                    input: hw,
                    output: (h, w),
                    bilinear: *bilinear,
                    align_corners: *align_corners,
                },
                explain: Some(format!(
                    "height: {} * {} = {h}, width: {} * {} = {w}",
                    hw.0, scale.v.0, hw.1, scale.v.1
                )),
            })
        }
    }
}

fn infer_conv(c: &ConvSpec, input: &[u64], label: &str, span: Span) -> syn::Result<Inferred> {
    let (ci, hw) = expect_chw(input, span, label)?;
    if c.filters.v == 0 {
        return Err(err(
            c.filters.span,
            format!("{label}: filters must be at least 1"),
        ));
    }
    nonzero_hw(c.kernel, "the kernel size", label)?;
    nonzero_hw(c.stride, "the stride", label)?;
    nonzero_hw(c.dilation, "the dilation", label)?;
    let g = c.groups.v;
    if g == 0 {
        return Err(err(
            c.groups.span,
            format!("{label}: groups must be at least 1"),
        ));
    }
    if ci % g != 0 {
        return Err(err(
            c.groups.span,
            format!(
                "{label}: the {ci} input channels are not divisible by groups = {g} ({ci} % {g} = {}); hint: use a divisor of {ci}",
                ci % g
            ),
        ));
    }
    if !c.filters.v.is_multiple_of(g) {
        return Err(err(
            c.groups.span,
            format!(
                "{label}: the {} filters are not divisible by groups = {g} ({} % {g} = {}); hint: use a multiple of {g} filters",
                c.filters.v,
                c.filters.v,
                c.filters.v % g
            ),
        ));
    }
    let (w, explain) = window(
        label,
        "conv",
        hw,
        c.kernel,
        c.stride,
        c.dilation.v,
        c.padding,
    )?;
    let fs = c.filters.span;
    let per = mul(
        mul(ci / g, c.kernel.v.0, fs, label)?,
        c.kernel.v.1,
        fs,
        label,
    )?;
    let mut params = mul(c.filters.v, per, fs, label)?;
    if c.bias {
        params = add(params, c.filters.v, fs, label)?;
    }
    let explain = format!("{explain}{}", keep_hint(&w));
    Ok(Inferred {
        output: vec![c.filters.v, w.output.0, w.output.1],
        params,
        resolved: Resolved::Conv2d {
            ci,
            co: c.filters.v,
            groups: g,
            w,
            bias: c.bias,
        },
        explain: Some(explain),
    })
}

fn infer_conv_t(c: &ConvTSpec, input: &[u64], label: &str, span: Span) -> syn::Result<Inferred> {
    let (ci, hw) = expect_chw(input, span, label)?;
    if c.filters.v == 0 {
        return Err(err(
            c.filters.span,
            format!("{label}: filters must be at least 1"),
        ));
    }
    nonzero_hw(c.kernel, "the kernel size", label)?;
    nonzero_hw(c.stride, "the stride", label)?;
    let mut out = [0u64; 2];
    let mut explain = Vec::new();
    for i in 0..2 {
        let (inp, k, s, p, op) = (
            axis(hw, i),
            pick(c.kernel.v, i),
            pick(c.stride.v, i),
            pick(c.padding.v, i),
            pick(c.output_padding.v, i),
        );
        if op >= s {
            return Err(err(
                c.output_padding.span,
                format!(
                    "{label}: output_padding {} {op} must be smaller than the stride {s}",
                    AXES[i]
                ),
            ));
        }
        let formula = format!("({inp} - 1) * {s} - 2 * {p} + ({k} - 1) + {op} + 1");
        match transpose_out(inp, k, s, p, op) {
            Some(o) => {
                out[i] = o;
                explain.push(format!("{}: {formula} = {o}", AXES[i]));
            }
            None => {
                return Err(err(
                    c.padding.span,
                    format!(
                        "{label}: output {} {formula} is below 1; hint: reduce the padding",
                        AXES[i]
                    ),
                ))
            }
        }
    }
    let fs = c.filters.span;
    let params = add(
        mul(
            mul(mul(ci, c.filters.v, fs, label)?, c.kernel.v.0, fs, label)?,
            c.kernel.v.1,
            fs,
            label,
        )?,
        c.filters.v,
        fs,
        label,
    )?;
    let w = Window {
        kernel: c.kernel.v,
        stride: c.stride.v,
        dilation: (1, 1),
        pad: [c.padding.v.0, c.padding.v.0, c.padding.v.1, c.padding.v.1],
        input: hw,
        output: (out[0], out[1]),
    };
    Ok(Inferred {
        output: vec![c.filters.v, out[0], out[1]],
        params,
        resolved: Resolved::ConvTranspose2d {
            ci,
            co: c.filters.v,
            w,
            output_padding: c.output_padding.v,
        },
        explain: Some(explain.join(", ")),
    })
}

fn infer_pool(
    p: &PoolSpec,
    input: &[u64],
    label: &str,
    span: Span,
) -> syn::Result<(u64, Window, String)> {
    let (c, hw) = expect_chw(input, span, label)?;
    nonzero_hw(p.kernel, "the kernel size", label)?;
    nonzero_hw(p.stride, "the stride", label)?;
    if let Padding::Sym(ph) = p.padding.v {
        for (i, axis_name) in AXES.iter().enumerate() {
            let (pp, k) = (pick(ph, i), pick(p.kernel.v, i));
            if pp > k / 2 {
                return Err(err(
                    p.padding.span,
                    format!(
                        "{label}: padding {} {pp} is more than half the kernel {k} (at most {}); hint: use padding = same",
                        axis_name,
                        k / 2
                    ),
                ));
            }
        }
    }
    if matches!(p.padding.v, Padding::Full) {
        return Err(err(
            p.padding.span,
            format!("{label}: pooling takes padding = valid, same or a number, not full"),
        ));
    }
    let (w, explain) = window(label, "pool", hw, p.kernel, p.stride, (1, 1), p.padding)?;
    Ok((c, w, explain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s<T>(v: T) -> Sp<T> {
        Sp::new(v, Span::call_site())
    }

    fn conv(filters: u64, k: u64, stride: u64, padding: Padding) -> ConvSpec {
        ConvSpec {
            filters: s(filters),
            kernel: s((k, k)),
            stride: s((stride, stride)),
            padding: s(padding),
            dilation: s((1, 1)),
            groups: s(1),
            bias: true,
        }
    }

    fn infer(spec: Spec, input: &[u64]) -> syn::Result<Inferred> {
        infer_layer(&spec, input, "l: X", Span::call_site())
    }

    fn out(spec: Spec, input: &[u64]) -> Vec<u64> {
        match infer(spec, input) {
            Ok(i) => i.output,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn msg(spec: Spec, input: &[u64]) -> String {
        match infer(spec, input) {
            Ok(i) => panic!("expected an error, got {:?}", i.output),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn same_padding_matches_keras_for_strides_1_2_3() {
        // stride 1: total = k - 1, odd pad goes after.
        assert_eq!(same_padding(28, 5, 1, 1), Some((2, 2)));
        assert_eq!(same_padding(28, 4, 1, 1), Some((1, 2)));
        assert_eq!(same_padding(7, 3, 1, 1), Some((1, 1)));
        // stride 2, even input 28: out 14, total = 13*2 + 3 - 28 = 1.
        assert_eq!(same_padding(28, 3, 2, 1), Some((0, 1)));
        // stride 2, odd input 27: out 14, total = 26 + 3 - 27 = 2.
        assert_eq!(same_padding(27, 3, 2, 1), Some((1, 1)));
        // stride 2, kernel 1: no padding.
        assert_eq!(same_padding(28, 1, 2, 1), Some((0, 0)));
        // stride 3, input 10: out 4, total = 9 + 3 - 10 = 2.
        assert_eq!(same_padding(10, 3, 3, 1), Some((1, 1)));
        // stride 3, input 9: out 3, total = 6 + 3 - 9 = 0.
        assert_eq!(same_padding(9, 3, 3, 1), Some((0, 0)));
        // stride 3, input 11, kernel 5: out 4, total = 9 + 5 - 11 = 3.
        assert_eq!(same_padding(11, 5, 3, 1), Some((1, 2)));
        // dilation 2, kernel 3 (effective 5), stride 1: total 4.
        assert_eq!(same_padding(16, 3, 1, 2), Some((2, 2)));
        assert_eq!(same_padding(16, 3, 0, 1), None);
    }

    #[test]
    fn conv_same_output_is_ceil_of_input_over_stride() {
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
                Spec::Conv2d(conv(8, k, stride, Padding::Same)),
                &[3, input, input],
            );
            let expect = input.div_ceil(stride);
            assert_eq!(o, vec![8, expect, expect], "in {input} k {k} s {stride}");
        }
    }

    #[test]
    fn conv_valid_full_and_explicit_padding() {
        assert_eq!(
            out(Spec::Conv2d(conv(32, 5, 1, Padding::Valid)), &[1, 28, 28]),
            vec![32, 24, 24]
        );
        assert_eq!(
            out(
                Spec::Conv2d(conv(32, 5, 1, Padding::Sym((0, 0)))),
                &[1, 28, 28]
            ),
            vec![32, 24, 24]
        );
        assert_eq!(
            out(Spec::Conv2d(conv(32, 5, 1, Padding::Full)), &[1, 28, 28]),
            vec![32, 32, 32]
        );
        // ResNet stem: (224 + 6 - 7) / 2 + 1 = 112.
        assert_eq!(
            out(
                Spec::Conv2d(conv(64, 7, 2, Padding::Sym((3, 3)))),
                &[3, 224, 224]
            ),
            vec![64, 112, 112]
        );
        // floor: (28 - 3) / 2 + 1 = 13.
        assert_eq!(
            out(Spec::Conv2d(conv(4, 3, 2, Padding::Valid)), &[1, 28, 28]),
            vec![4, 13, 13]
        );
        let mut c = conv(
            4,
            3,
            1,
            Padding::Explicit {
                t: 1,
                b: 0,
                l: 2,
                r: 2,
            },
        );
        c.kernel = s((3, 5));
        assert_eq!(out(Spec::Conv2d(c), &[1, 10, 10]), vec![4, 9, 10]);
    }

    #[test]
    fn conv_with_dilation_and_groups() {
        let mut c = conv(16, 3, 1, Padding::Valid);
        c.dilation = s((2, 3));
        // effective kernels 5 and 7.
        assert_eq!(out(Spec::Conv2d(c), &[4, 20, 20]), vec![16, 16, 14]);
        let mut c = conv(16, 3, 1, Padding::Same);
        c.dilation = s((2, 2));
        assert_eq!(out(Spec::Conv2d(c), &[4, 20, 20]), vec![16, 20, 20]);
        let mut c = conv(16, 3, 1, Padding::Full);
        c.dilation = s((2, 2));
        assert_eq!(out(Spec::Conv2d(c), &[4, 20, 20]), vec![16, 24, 24]);
        let mut c = conv(8, 3, 1, Padding::Sym((1, 1)));
        c.groups = s(4);
        let i = infer(Spec::Conv2d(c), &[4, 8, 8]).unwrap();
        // groups 4: each filter sees 1 channel.
        assert_eq!(i.params, 8 * 3 * 3 + 8);
    }

    #[test]
    fn conv_param_counts() {
        let i = infer(Spec::Conv2d(conv(32, 5, 1, Padding::Valid)), &[1, 28, 28]).unwrap();
        assert_eq!(i.params, 32 * 25 + 32);
        let mut c = conv(64, 3, 1, Padding::Valid);
        c.bias = false;
        let i = infer(Spec::Conv2d(c), &[32, 8, 8]).unwrap();
        assert_eq!(i.params, 64 * 32 * 9);
        match i.resolved {
            Resolved::Conv2d {
                ci, co, w, bias, ..
            } => {
                assert_eq!((ci, co, bias), (32, 64, false));
                assert_eq!(w.output, (6, 6));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conv_errors_carry_numbers_and_hints() {
        let m = msg(Spec::Conv2d(conv(8, 5, 1, Padding::Valid)), &[1, 3, 3]);
        assert!(
            m.contains("kernel height 5 is larger than the padded input height 3"),
            "{m}"
        );
        assert!(m.contains("padding = 1"), "{m}");
        let mut c = conv(8, 3, 1, Padding::Valid);
        c.dilation = s((3, 1));
        let m = msg(Spec::Conv2d(c), &[1, 6, 6]);
        assert!(m.contains("effective size 7"), "{m}");
        let mut c = conv(8, 3, 1, Padding::Valid);
        c.groups = s(3);
        let m = msg(Spec::Conv2d(c), &[4, 8, 8]);
        assert!(
            m.contains("4 input channels are not divisible by groups = 3"),
            "{m}"
        );
        let mut c = conv(8, 3, 1, Padding::Valid);
        c.groups = s(4);
        c.filters = s(6);
        let m = msg(Spec::Conv2d(c), &[4, 8, 8]);
        assert!(
            m.contains("6 filters are not divisible by groups = 4"),
            "{m}"
        );
        let m = msg(Spec::Conv2d(conv(8, 3, 0, Padding::Valid)), &[1, 8, 8]);
        assert!(m.contains("stride must be at least 1"), "{m}");
        let m = msg(Spec::Conv2d(conv(8, 0, 1, Padding::Valid)), &[1, 8, 8]);
        assert!(m.contains("kernel size must be at least 1"), "{m}");
        let mut c = conv(8, 3, 1, Padding::Valid);
        c.dilation = s((0, 1));
        assert!(msg(Spec::Conv2d(c), &[1, 8, 8]).contains("dilation must be at least 1"));
        let mut c = conv(8, 3, 1, Padding::Valid);
        c.groups = s(0);
        assert!(msg(Spec::Conv2d(c), &[1, 8, 8]).contains("groups must be at least 1"));
        let m = msg(Spec::Conv2d(conv(8, 3, 1, Padding::Valid)), &[784]);
        assert!(
            m.contains("expects a [channels, height, width] input but got [784]"),
            "{m}"
        );
        assert!(msg(Spec::Conv2d(conv(0, 3, 1, Padding::Valid)), &[1, 8, 8]).contains("filters"));
    }

    #[test]
    fn explain_reports_the_stride_remainder() {
        // (28 - 3) / 2 = 12 rem 1: the 28th row is never used.
        let i = infer(Spec::Conv2d(conv(4, 3, 2, Padding::Valid)), &[1, 28, 28]).unwrap();
        let e = i.explain.unwrap();
        assert_eq!(
            e,
            "height and width: (28 + 0 + 0 - 3) / 2 + 1 = 13 (stride 2 leaves the last padded line 28 unused)"
        );
        let mut c = conv(4, 3, 3, Padding::Valid);
        c.kernel = s((3, 2));
        let e = infer(Spec::Conv2d(c), &[1, 28, 28])
            .unwrap()
            .explain
            .unwrap();
        assert_eq!(
            e,
            "height: (28 + 0 + 0 - 3) / 3 + 1 = 9 (stride 3 leaves the last padded line 28 unused), \
             width: (28 + 0 + 0 - 2) / 3 + 1 = 9 (stride 3 leaves the last padded lines 27..28 unused)"
        );
        let i = infer(Spec::Conv2d(conv(4, 3, 2, Padding::Valid)), &[1, 27, 27]).unwrap();
        assert!(!i.explain.unwrap().contains("remainder"));
    }

    #[test]
    fn conv_explain_has_keep_hint() {
        let i = infer(Spec::Conv2d(conv(64, 5, 1, Padding::Valid)), &[32, 12, 12]).unwrap();
        let e = i.explain.unwrap();
        assert!(
            e.contains("height and width: (12 + 0 + 0 - 5) / 1 + 1 = 8"),
            "{e}"
        );
        assert!(e.contains("padding = 2 would keep 12x12"), "{e}");
    }

    #[test]
    fn huge_numbers_are_errors_not_panics() {
        let big = u64::MAX / 2;
        let m = msg(
            Spec::Conv2d(conv(big, 3, 1, Padding::Sym((1, 1)))),
            &[big, 8, 8],
        );
        assert!(m.contains("too large"), "{m}");
        let m = msg(Spec::Flatten, &[big, big]);
        assert!(m.contains("too large"), "{m}");
        let m = msg(
            Spec::Dense {
                units: s(big),
                bias: true,
            },
            &[big],
        );
        assert!(m.contains("too large"), "{m}");
        let m = msg(
            Spec::Conv2d(conv(3, u64::MAX, 1, Padding::Full)),
            &[3, 8, 8],
        );
        assert!(m.contains("too large") || m.contains("larger"), "{m}");
        assert!(same_padding(u64::MAX, u64::MAX, 1, u64::MAX).is_none());
        assert!(transpose_out(u64::MAX, 3, 2, 0, 0).is_none());
    }

    #[test]
    fn transpose_conv_formula_and_errors() {
        assert_eq!(transpose_out(7, 4, 2, 1, 0), Some(14));
        assert_eq!(transpose_out(7, 3, 2, 1, 1), Some(14));
        assert_eq!(transpose_out(5, 3, 1, 0, 0), Some(7));
        assert_eq!(transpose_out(1, 1, 1, 1, 0), None);
        let spec = |k: u64, st: u64, p: u64, op: u64| {
            Spec::ConvTranspose2d(ConvTSpec {
                filters: s(16),
                kernel: s((k, k)),
                stride: s((st, st)),
                padding: s((p, p)),
                output_padding: s((op, op)),
            })
        };
        assert_eq!(out(spec(4, 2, 1, 0), &[32, 7, 7]), vec![16, 14, 14]);
        let i = infer(spec(4, 2, 1, 0), &[32, 7, 7]).unwrap();
        assert_eq!(i.params, 32 * 16 * 16 + 16);
        let m = msg(spec(3, 2, 1, 2), &[32, 7, 7]);
        assert!(
            m.contains("output_padding height 2 must be smaller than the stride 2"),
            "{m}"
        );
        let m = msg(spec(1, 1, 3, 0), &[32, 2, 2]);
        assert!(m.contains("below 1"), "{m}");
        assert!(m.contains("(2 - 1) * 1 - 2 * 3 + (1 - 1) + 0 + 1"), "{m}");
    }

    fn pool(k: u64, st: u64, padding: Padding) -> PoolSpec {
        PoolSpec {
            kernel: s((k, k)),
            stride: s((st, st)),
            padding: s(padding),
        }
    }

    #[test]
    fn pools() {
        assert_eq!(
            out(Spec::MaxPool2d(pool(2, 2, Padding::Valid)), &[32, 24, 24]),
            vec![32, 12, 12]
        );
        assert_eq!(
            out(Spec::MaxPool2d(pool(2, 2, Padding::Valid)), &[32, 25, 25]),
            vec![32, 12, 12]
        );
        // ResNet: (112 + 2 - 3) / 2 + 1 = 56.
        assert_eq!(
            out(
                Spec::MaxPool2d(pool(3, 2, Padding::Sym((1, 1)))),
                &[64, 112, 112]
            ),
            vec![64, 56, 56]
        );
        assert_eq!(
            out(Spec::MaxPool2d(pool(3, 1, Padding::Same)), &[8, 28, 28]),
            vec![8, 28, 28]
        );
        assert_eq!(
            out(Spec::MaxPool2d(pool(2, 2, Padding::Same)), &[8, 7, 7]),
            vec![8, 4, 4]
        );
        let i = infer(
            Spec::AvgPool2d {
                pool: pool(3, 2, Padding::Same),
                count_include_pad: false,
            },
            &[8, 7, 7],
        )
        .unwrap();
        assert_eq!(i.output, vec![8, 4, 4]);
        match i.resolved {
            Resolved::AvgPool2d {
                w,
                count_include_pad,
            } => {
                assert!(!count_include_pad);
                assert_eq!(w.pad, [1, 1, 1, 1]);
            }
            other => panic!("{other:?}"),
        }
        let m = msg(
            Spec::MaxPool2d(pool(3, 1, Padding::Sym((2, 2)))),
            &[8, 8, 8],
        );
        assert!(
            m.contains("padding height 2 is more than half the kernel 3"),
            "{m}"
        );
        let m = msg(Spec::MaxPool2d(pool(5, 5, Padding::Valid)), &[8, 4, 4]);
        assert!(
            m.contains("kernel height 5 is larger than the padded input height 4"),
            "{m}"
        );
        assert!(msg(Spec::MaxPool2d(pool(2, 0, Padding::Valid)), &[8, 4, 4]).contains("stride"));
        assert!(msg(Spec::MaxPool2d(pool(2, 2, Padding::Full)), &[8, 4, 4]).contains("full"));
    }

    #[test]
    fn global_adaptive_padding_upsampling() {
        assert_eq!(out(Spec::GlobalAvgPool, &[512, 7, 7]), vec![512]);
        assert_eq!(out(Spec::GlobalMaxPool, &[512, 7, 7]), vec![512]);
        assert!(msg(Spec::GlobalAvgPool, &[512]).contains("[channels, height, width]"));
        assert_eq!(
            out(Spec::AdaptiveAvgPool2d { out: s((1, 1)) }, &[8, 7, 5]),
            vec![8, 1, 1]
        );
        assert_eq!(
            out(Spec::AdaptiveMaxPool2d { out: s((3, 2)) }, &[8, 7, 5]),
            vec![8, 3, 2]
        );
        assert!(msg(Spec::AdaptiveMaxPool2d { out: s((0, 2)) }, &[8, 7, 5]).contains("at least 1"));
        assert_eq!(
            out(
                Spec::ZeroPadding2d {
                    pad: s([1, 2, 3, 4])
                },
                &[3, 10, 10]
            ),
            vec![3, 13, 17]
        );
        let up = |sc: Hw| Spec::UpSampling2d {
            scale: s(sc),
            bilinear: false,
            align_corners: false,
        };
        assert_eq!(out(up((2, 3)), &[3, 10, 10]), vec![3, 20, 30]);
        assert!(msg(up((0, 2)), &[3, 10, 10]).contains("scale must be at least 1"));
    }

    #[test]
    fn dense_flatten_batchnorm_dropout() {
        let d = |u| Spec::Dense {
            units: s(u),
            bias: true,
        };
        let i = infer(d(256), &[784]).unwrap();
        assert_eq!((i.output, i.params), (vec![256], 784 * 256 + 256));
        let i = infer(
            Spec::Dense {
                units: s(10),
                bias: false,
            },
            &[128],
        )
        .unwrap();
        assert_eq!(i.params, 1280);
        let m = msg(d(10), &[64, 8, 8]);
        assert_eq!(
            m,
            "l: X expects a flat [features] input but got [64, 8, 8]; add Flatten before it"
        );
        assert!(msg(d(0), &[8]).contains("units must be at least 1"));
        assert_eq!(out(Spec::Flatten, &[64, 4, 4]), vec![1024]);
        assert_eq!(out(Spec::Flatten, &[7]), vec![7]);
        assert!(msg(Spec::Flatten, &[1, 2, 3, 4, 5]).contains("1 to 4 dims"));
        let i = infer(Spec::BatchNorm1d, &[16, 5]).unwrap();
        assert_eq!((i.output, i.params), (vec![16, 5], 32));
        let i = infer(Spec::BatchNorm2d, &[16, 5, 5]).unwrap();
        assert_eq!(i.params, 32);
        assert!(msg(Spec::BatchNorm2d, &[16]).contains("[channels, height, width]"));
        assert!(msg(Spec::BatchNorm1d, &[16, 5, 5]).contains("BatchNorm2d"));
        assert_eq!(out(Spec::Dropout { p: s(0.0) }, &[3]), vec![3]);
        assert!(msg(Spec::Dropout { p: s(1.0) }, &[3]).contains("[0, 1)"));
        assert!(msg(Spec::Dropout { p: s(-0.1) }, &[3]).contains("[0, 1)"));
    }
}
