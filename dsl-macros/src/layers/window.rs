//! The sliding 2-d window shared by convolutions and pooling: padding
//! arguments, the `[C, H, W]` input check, and the output size per axis
//! (from `sxima_shape`) with errors that carry the numbers and a hint.

use proc_macro2::Span;
use sxima_shape::AxisError;

use super::args::{Bound, Hw, Sp};
use super::common::{err, fmt_shape, too_large};
use super::Cx;
use crate::parse::Value;

/// Padding of a 2-d convolution or pooling layer, as written.
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

/// The numbers of a resolved 2-d window: `[C, HI, WI]` in, `[C', HO, WO]` out.
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

const AXES: [&str; 2] = ["height", "width"];

/// Component `i` (0 = height, 1 = width) of a pair.
pub fn axis(hw: Hw, i: usize) -> u64 {
    if i == 0 {
        hw.0
    } else {
        hw.1
    }
}

/// `"height"` or `"width"`.
pub fn axis_name(i: usize) -> &'static str {
    AXES[i]
}

/// `HxW`.
pub fn fmt_hw(hw: Hw) -> String {
    format!("{}x{}", hw.0, hw.1)
}

/// A hint when `[a, b, c]` looks like a channels-last image (`[28, 28, 1]`,
/// `[32, 32, 3]`): one or three channels last, at least 8x8 before them.
pub fn channels_last_hint(input: &[u64]) -> Option<String> {
    match input {
        [h, w, c] if (*c == 1 || *c == 3) && *h >= 8 && *w >= 8 => Some(format!(
            "the input {} looks channels-last [H, W, C]; sxima takes images channels-first [C, H, W]: write [{c}, {h}, {w}]",
            fmt_shape(input)
        )),
        _ => None,
    }
}

/// Splits `[C, H, W]`, or explains what the layer expected.
pub fn expect_chw(input: &[u64], span: Span, label: &str) -> syn::Result<(u64, Hw)> {
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

/// Errors when either component is zero.
pub fn nonzero_hw(v: Sp<Hw>, what: &str, label: &str) -> syn::Result<()> {
    if v.v.0 == 0 || v.v.1 == 0 {
        return Err(err(
            v.span,
            format!("{label}: {what} must be at least 1, got {}", fmt_hw(v.v)),
        ));
    }
    Ok(())
}

/// Reads `padding` (default 0): a number, a pair, `((t, b), (l, r))` or one of `keywords`.
pub fn padding_arg(b: &Bound<'_>, keywords: &[&str]) -> syn::Result<Sp<Padding>> {
    let Some(v) = b.get("padding") else {
        return Ok(Sp::new(Padding::Sym((0, 0)), b.span()));
    };
    let label = b.label;
    let expected = format!(
        "a number, a pair (h, w), ((top, bottom), (left, right)) or {}",
        keywords
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match v {
        Value::Ident(i) => {
            let w = i.to_string();
            let p = match w.as_str() {
                "valid" => Padding::Valid,
                "same" => Padding::Same,
                "full" => Padding::Full,
                _ => {
                    return Err(err(
                        i.span(),
                        format!("{label}: unknown padding `{w}`; expected {expected}"),
                    ))
                }
            };
            if !keywords.contains(&w.as_str()) {
                return Err(err(
                    i.span(),
                    format!("{label}: padding `{w}` is not allowed here; expected {expected}"),
                ));
            }
            Ok(Sp::new(p, i.span()))
        }
        Value::Tuple { items, span } if items.iter().all(|i| matches!(i, Value::Tuple { .. })) => {
            let [t, bo, l, r] = b.four(v, "padding", &expected)?;
            Ok(Sp::new(Padding::Explicit { t, b: bo, l, r }, *span))
        }
        Value::Int { .. } | Value::Tuple { .. } => {
            let hw = b.hw(v, "padding")?;
            Ok(Sp::new(Padding::Sym(hw.v), hw.span))
        }
        _ => Err(b.wrong(v, "padding", &expected)),
    }
}

/// Resolves a [`Padding`] into `[top, bottom, left, right]`; `None` on overflow.
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
            let (t, b) = sxima_shape::same_padding(input.0, kernel.0, stride.0, dilation.0)?;
            let (l, r) = sxima_shape::same_padding(input.1, kernel.1, stride.1, dilation.1)?;
            [t, b, l, r]
        }
        Padding::Full => {
            let h = sxima_shape::full_padding(kernel.0, dilation.0)?;
            let w = sxima_shape::full_padding(kernel.1, dilation.1)?;
            [h, h, w, w]
        }
    })
}

/// What the window is for (changes the hint of a kernel that does not fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowUse {
    Conv,
    Pool,
}

/// The sizes of a window to resolve against one `[C, H, W]` input.
pub struct WindowArgs {
    pub kernel: Sp<Hw>,
    pub stride: Sp<Hw>,
    pub dilation: Hw,
    pub padding: Sp<Padding>,
    pub ceil_mode: bool,
}

/// Computes the output of a 2-d window, with errors naming the numbers, and a
/// one-line explanation (`"height and width: (28 + 0 + 0 - 5) / 1 + 1 = 24"`).
/// `cx` names the layer; errors about the input as a whole point at it.
pub fn window(
    cx: &Cx<'_>,
    use_: WindowUse,
    input: &[u64],
    hw: Hw,
    a: &WindowArgs,
) -> syn::Result<(Window, String)> {
    let label = cx.label;
    // A square image with 1 or 3 channels last (`[32, 32, 3]`) is a
    // channels-last mistake even when the window happens to fit: as
    // `[C, H, W]` it would be 32 channels of 32x3 images.
    if let [h, w, _] = input {
        if h == w {
            if let Some(hint) = channels_last_hint(input) {
                return Err(err(cx.span, format!("{label}: {hint}")));
            }
        }
    }
    let pad = resolve_padding(a.padding.v, hw, a.kernel.v, a.stride.v, a.dilation)
        .ok_or_else(|| too_large(a.padding.span, label))?;
    let mut out = [0u64; 2];
    let mut explain = Vec::new();
    for i in 0..2 {
        let (inp, k, s, d) = (
            axis(hw, i),
            axis(a.kernel.v, i),
            axis(a.stride.v, i),
            axis(a.dilation, i),
        );
        let (pb, pa) = (pad[2 * i], pad[2 * i + 1]);
        match sxima_shape::window_out(inp, k, s, d, pb, pa, a.ceil_mode) {
            Ok(o) => {
                out[i] = o;
                // `window_out` succeeded, so these did not overflow.
                let eff = d.saturating_mul(k - 1).saturating_add(1);
                let padded = inp.saturating_add(pb).saturating_add(pa);
                let rem = padded.saturating_sub(eff) % s.max(1);
                let dropped = match rem {
                    _ if a.ceil_mode => String::new(),
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
            Err(AxisError::Overflow | AxisError::Zero) => {
                return Err(too_large(a.kernel.span, label))
            }
            Err(AxisError::KernelTooLarge { effective, padded }) => {
                if let Some(hint) = channels_last_hint(input) {
                    return Err(err(cx.span, format!("{label}: {hint}")));
                }
                let dil = if d == 1 {
                    String::new()
                } else {
                    format!(" (dilation {d}: effective size {effective})")
                };
                let hint = match use_ {
                    WindowUse::Pool => format!("; hint: use a kernel of at most {padded}"),
                    WindowUse::Conv => {
                        let fit = (effective - inp).div_ceil(2);
                        format!("; hint: padding = {fit} makes it fit, padding = same keeps {inp}")
                    }
                };
                let ax = AXES[i];
                return Err(err(
                    a.kernel.span,
                    format!(
                        "{label}: kernel {ax} {k}{dil} is larger than the padded input {ax} {padded} ({inp} + padding {pb} + {pa}){hint}"
                    ),
                ));
            }
        }
    }
    Ok((
        Window {
            kernel: a.kernel.v,
            stride: a.stride.v,
            dilation: a.dilation,
            pad,
            input: hw,
            output: (out[0], out[1]),
        },
        join_axes(&explain),
    ))
}

/// `"height and width: X"` when both axes compute the same, else `"height: X, width: Y"`.
pub fn join_axes(parts: &[String]) -> String {
    match parts {
        [h, w] if h == w => format!("height and width: {h}"),
        [h, w] => format!("height: {h}, width: {w}"),
        _ => parts.join(", "),
    }
}
