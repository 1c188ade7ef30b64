//! `residual(shortcut = identity | projection | auto) { body }`: the shape
//! rule of a skip connection, `y = body(x) + shortcut(x)`.
//!
//! The body's layers are planned by [`crate::plan`]; this module reads the
//! `shortcut` argument and decides, from the body's input and output shapes,
//! whether the shortcut is the identity or a projection (a 1x1 convolution
//! with the body's stride, no bias, plus `BatchNorm2d`, as torchvision's
//! `downsample`).

use syn::Ident;

use super::common::fmt_shape;
use crate::parse::{Args, Value};

/// The written `shortcut` argument.
#[derive(Debug, Clone)]
pub enum Shortcut {
    /// `identity`, with the span of the word (or of `residual` by default).
    Identity(proc_macro2::Span),
    Projection,
    Auto,
}

/// Reads `residual(..)`'s arguments: only `shortcut = ..` (default `auto`).
pub fn residual_shortcut(kw: &Ident, args: &Args) -> syn::Result<Shortcut> {
    let mut out = Shortcut::Auto;
    for a in &args.list {
        let Some(n) = &a.name else {
            return Err(syn::Error::new(
                a.span(),
                "write the shortcut by name: `residual(shortcut = identity | projection | auto)`",
            ));
        };
        if n != "shortcut" {
            return Err(syn::Error::new(
                n.span(),
                format!("`residual` has no argument `{n}`; it takes `shortcut = identity | projection | auto`"),
            ));
        }
        out = match &a.value {
            Value::Ident(w) if w == "identity" => Shortcut::Identity(w.span()),
            Value::Ident(w) if w == "projection" => Shortcut::Projection,
            Value::Ident(w) if w == "auto" => Shortcut::Auto,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "`shortcut` is `identity`, `projection` or `auto`, found `{}`",
                        other.text()
                    ),
                ))
            }
        };
    }
    let _ = kw;
    Ok(out)
}

/// `None` for an identity shortcut, else the projection's `(filters, stride)`.
/// An identity over a body that changes the shape, or a shape change that a
/// 1x1 convolution with one stride cannot make, is an error naming both shapes.
pub fn shortcut_for(
    kw: &Ident,
    shortcut: &Shortcut,
    input: &[u64],
    output: &[u64],
) -> syn::Result<Option<(u64, u64)>> {
    match shortcut {
        Shortcut::Identity(span) => {
            if input == output {
                Ok(None)
            } else {
                Err(syn::Error::new(
                    *span,
                    format!(
                        "`shortcut = identity` needs the body to keep the shape, but it maps {} to {}; use `shortcut = projection` (or `auto`)",
                        fmt_shape(input),
                        fmt_shape(output)
                    ),
                ))
            }
        }
        Shortcut::Auto if input == output => Ok(None),
        Shortcut::Auto | Shortcut::Projection => projection(kw, input, output).map(Some),
    }
}

/// The 1x1 convolution `(filters, stride)` mapping `input` to `output`.
fn projection(kw: &Ident, input: &[u64], output: &[u64]) -> syn::Result<(u64, u64)> {
    let fail = |why: &str| {
        syn::Error::new(
            kw.span(),
            format!(
                "the residual body maps {} to {}; {why}",
                fmt_shape(input),
                fmt_shape(output)
            ),
        )
    };
    let ([_, h, w], [c, oh, ow]) = (input, output) else {
        return Err(fail(
            "a projection shortcut needs [channels, height, width] on both sides",
        ));
    };
    let stride = h.div_ceil(*oh).max(1);
    let fits = |i: u64, o: u64| (i - 1) / stride + 1 == o;
    if !fits(*h, *oh) || !fits(*w, *ow) {
        return Err(fail(&format!(
            "no 1x1 convolution with one stride (tried {stride}) maps the height and width alike"
        )));
    }
    Ok((*c, stride))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn kw() -> Ident {
        Ident::new("residual", Span::call_site())
    }

    #[test]
    fn identity_projection_and_auto() {
        let id = Shortcut::Identity(Span::call_site());
        assert_eq!(
            shortcut_for(&kw(), &id, &[8, 4, 4], &[8, 4, 4]).unwrap(),
            None
        );
        let e = shortcut_for(&kw(), &id, &[8, 4, 4], &[16, 2, 2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("maps [8, 4, 4] to [16, 2, 2]"), "{e}");
        let p = |i: &[u64], o: &[u64]| shortcut_for(&kw(), &Shortcut::Auto, i, o);
        assert_eq!(p(&[64, 56, 56], &[128, 28, 28]).unwrap(), Some((128, 2)));
        assert_eq!(p(&[64, 7, 7], &[128, 4, 4]).unwrap(), Some((128, 2)));
        assert_eq!(p(&[64, 8, 8], &[64, 8, 8]).unwrap(), None);
        assert_eq!(
            shortcut_for(&kw(), &Shortcut::Projection, &[4, 8, 8], &[4, 8, 8]).unwrap(),
            Some((4, 1))
        );
        assert!(p(&[4, 8, 8], &[4, 4, 8]).is_err());
        assert!(p(&[16], &[8]).is_err());
    }
}
