//! The layer catalogue: which layer names exist, which arguments each takes,
//! and how a written call (`Conv2d(32, kernel = 5)`) becomes a typed [`Spec`].
//!
//! Argument errors (unknown, duplicate, missing, ill-typed) are reported here,
//! spanned on the offending argument or layer name; shape errors are left to
//! [`crate::shape`].

use proc_macro2::Span;
use syn::Ident;

use crate::parse::{Arg, LayerCall, Value};
use crate::shape::{Activation, ConvSpec, ConvTSpec, Hw, Padding, PoolSpec, Sp, Spec};

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct LayerDef {
    /// The name as written in `model!`.
    pub name: &'static str,
    /// Prefix of generated field names (`relu` -> `relu_1`).
    pub snake: &'static str,
    /// Argument names in positional order.
    pub args: &'static [&'static str],
    /// How many leading arguments are required.
    pub required: usize,
}

const fn def(
    name: &'static str,
    snake: &'static str,
    args: &'static [&'static str],
    required: usize,
) -> LayerDef {
    LayerDef {
        name,
        snake,
        args,
        required,
    }
}

/// Every layer `model!` knows.
pub const CATALOGUE: &[LayerDef] = &[
    def("Dense", "dense", &["units", "bias"], 1),
    def("ReLU", "relu", &[], 0),
    def("Sigmoid", "sigmoid", &[], 0),
    def("Tanh", "tanh", &[], 0),
    def("Softmax", "softmax", &[], 0),
    def("LogSoftmax", "log_softmax", &[], 0),
    def("GELU", "gelu", &[], 0),
    def("SiLU", "silu", &[], 0),
    def("LeakyReLU", "leaky_relu", &["alpha"], 0),
    def("Dropout", "dropout", &["p"], 1),
    def("BatchNorm1d", "batch_norm1d", &[], 0),
    def("BatchNorm2d", "batch_norm2d", &[], 0),
    def("Flatten", "flatten", &[], 0),
    def(
        "Conv2d",
        "conv2d",
        &[
            "filters", "kernel", "stride", "padding", "dilation", "groups", "bias",
        ],
        2,
    ),
    def(
        "ConvTranspose2d",
        "conv_transpose2d",
        &["filters", "kernel", "stride", "padding", "output_padding"],
        2,
    ),
    def(
        "MaxPool2d",
        "max_pool2d",
        &["kernel", "stride", "padding"],
        1,
    ),
    def(
        "AvgPool2d",
        "avg_pool2d",
        &["kernel", "stride", "padding", "count_include_pad"],
        1,
    ),
    def("GlobalAvgPool", "global_avg_pool", &[], 0),
    def("GlobalMaxPool", "global_max_pool", &[], 0),
    def(
        "AdaptiveAvgPool2d",
        "adaptive_avg_pool2d",
        &["output_size"],
        1,
    ),
    def(
        "AdaptiveMaxPool2d",
        "adaptive_max_pool2d",
        &["output_size"],
        1,
    ),
    def("ZeroPadding2d", "zero_padding2d", &["padding"], 1),
    def(
        "UpSampling2d",
        "up_sampling2d",
        &["scale", "mode", "align_corners"],
        1,
    ),
];

/// Looks a layer up by its exact name.
pub fn lookup(name: &str) -> Option<&'static LayerDef> {
    CATALOGUE.iter().find(|d| d.name == name)
}

/// Edit distance, case-insensitive (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest name in `names`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    names
        .into_iter()
        .map(|n| (distance(word, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// "unknown layer `X`" with a suggestion.
pub fn unknown_layer(kind: &Ident) -> syn::Error {
    let word = kind.to_string();
    let mut msg = format!("unknown layer `{word}`");
    if let Some(s) = closest(&word, CATALOGUE.iter().map(|d| d.name)) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    } else {
        let names: Vec<&str> = CATALOGUE.iter().map(|d| d.name).collect();
        msg.push_str(&format!("; known layers: {}", names.join(", ")));
    }
    syn::Error::new(kind.span(), msg)
}

/// The layer as written, for summaries: `Conv2d(32, kernel = 5)`.
pub fn kind_text(call: &LayerCall) -> String {
    match &call.args {
        Some(args) if !args.list.is_empty() => {
            let parts: Vec<String> = args
                .list
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{n} = {}", a.value.text()),
                    None => a.value.text(),
                })
                .collect();
            format!("{}({})", call.kind, parts.join(", "))
        }
        _ => call.kind.to_string(),
    }
}

/// Arguments matched to a layer's parameter list.
struct Bound<'a> {
    def: &'static LayerDef,
    kind: &'a Ident,
    label: &'a str,
    values: Vec<Option<&'a Value>>,
}

fn bind<'a>(call: &'a LayerCall, def: &'static LayerDef, label: &'a str) -> syn::Result<Bound<'a>> {
    let mut values: Vec<Option<&Value>> = vec![None; def.args.len()];
    let list: &[Arg] = call.args.as_ref().map(|a| a.list.as_slice()).unwrap_or(&[]);
    let mut seen_named = false;
    for (pos, arg) in list.iter().enumerate() {
        let slot = match &arg.name {
            None => {
                if seen_named {
                    return Err(syn::Error::new(
                        arg.span(),
                        format!("{label}: positional arguments must come before named ones"),
                    ));
                }
                if pos >= def.args.len() {
                    let takes = if def.args.is_empty() {
                        "takes no arguments".to_string()
                    } else {
                        format!(
                            "takes at most {} argument(s): {}",
                            def.args.len(),
                            def.args.join(", ")
                        )
                    };
                    return Err(syn::Error::new(arg.span(), format!("{label} {takes}")));
                }
                pos
            }
            Some(name) => {
                seen_named = true;
                let word = name.to_string();
                match def.args.iter().position(|a| *a == word) {
                    Some(i) => i,
                    None => {
                        let mut msg = format!("unknown argument `{word}` for {}", def.name);
                        if let Some(s) = closest(&word, def.args.iter().copied()) {
                            msg.push_str(&format!("; did you mean `{s}`?"));
                        } else if def.args.is_empty() {
                            msg.push_str(&format!("; {} takes no arguments", def.name));
                        } else {
                            msg.push_str(&format!("; it takes {}", def.args.join(", ")));
                        }
                        return Err(syn::Error::new(name.span(), msg));
                    }
                }
            }
        };
        if values[slot].is_some() {
            let span = arg.name.as_ref().map_or(arg.span(), Ident::span);
            return Err(syn::Error::new(
                span,
                format!("{label}: argument `{}` is given twice", def.args[slot]),
            ));
        }
        values[slot] = Some(&arg.value);
    }
    Ok(Bound {
        def,
        kind: &call.kind,
        label,
        values,
    })
}

impl<'a> Bound<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        let i = self.def.args.iter().position(|a| *a == name)?;
        self.values[i]
    }

    fn req(&self, name: &str) -> syn::Result<&'a Value> {
        self.get(name).ok_or_else(|| {
            let required = &self.def.args[..self.def.required];
            syn::Error::new(
                self.kind.span(),
                format!(
                    "{}: missing required argument `{name}` ({} needs {})",
                    self.label,
                    self.def.name,
                    required.join(", ")
                ),
            )
        })
    }

    fn wrong(&self, v: &Value, name: &str, expected: &str) -> syn::Error {
        syn::Error::new(
            v.span(),
            format!(
                "{}: `{name}` expects {expected}, found {} `{}`",
                self.label,
                v.describe(),
                v.text()
            ),
        )
    }

    fn uint(&self, v: &Value, name: &str) -> syn::Result<Sp<u64>> {
        match v {
            Value::Int { value, span, .. } => {
                if *value < 0 {
                    return Err(syn::Error::new(
                        *span,
                        format!("{}: `{name}` must not be negative, got {value}", self.label),
                    ));
                }
                let n = u64::try_from(*value).map_err(|_| {
                    syn::Error::new(*span, format!("{}: `{name}` is too large", self.label))
                })?;
                Ok(Sp::new(n, *span))
            }
            _ => Err(self.wrong(v, name, "an integer")),
        }
    }

    fn hw(&self, v: &Value, name: &str) -> syn::Result<Sp<Hw>> {
        match v {
            Value::Tuple { items, span } => match items.as_slice() {
                [a, b] => Ok(Sp::new(
                    (self.uint(a, name)?.v, self.uint(b, name)?.v),
                    *span,
                )),
                _ => Err(self.wrong(v, name, "a number or a pair (height, width)")),
            },
            Value::Int { .. } => {
                let n = self.uint(v, name)?;
                Ok(Sp::new((n.v, n.v), n.span))
            }
            _ => Err(self.wrong(v, name, "a number or a pair (height, width)")),
        }
    }

    fn float(&self, v: &Value, name: &str) -> syn::Result<Sp<f64>> {
        match v {
            Value::Float { value, span, .. } => Ok(Sp::new(*value, *span)),
            // i128 -> f64 is exact for the magnitudes a u64 literal can have, up to rounding.
            Value::Int { value, span, .. } => Ok(Sp::new(*value as f64, *span)),
            _ => Err(self.wrong(v, name, "a number")),
        }
    }

    fn boolean(&self, v: &Value, name: &str) -> syn::Result<bool> {
        match v {
            Value::Bool { value, .. } => Ok(*value),
            _ => Err(self.wrong(v, name, "`true` or `false`")),
        }
    }

    fn keyword(&self, v: &Value, name: &str, allowed: &[&str]) -> syn::Result<String> {
        let expected = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        match v {
            Value::Ident(i) => {
                let w = i.to_string();
                if allowed.contains(&w.as_str()) {
                    Ok(w)
                } else {
                    Err(syn::Error::new(
                        i.span(),
                        format!("{}: unknown {name} `{w}`; expected {expected}", self.label),
                    ))
                }
            }
            _ => Err(self.wrong(v, name, &expected)),
        }
    }

    fn padding(&self, v: &Value, keywords: &[&str]) -> syn::Result<Sp<Padding>> {
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
                        return Err(syn::Error::new(
                            i.span(),
                            format!("{}: unknown padding `{w}`; expected {expected}", self.label),
                        ))
                    }
                };
                if !keywords.contains(&w.as_str()) {
                    return Err(syn::Error::new(
                        i.span(),
                        format!(
                            "{}: padding `{w}` is not allowed here; expected {expected}",
                            self.label
                        ),
                    ));
                }
                Ok(Sp::new(p, i.span()))
            }
            Value::Tuple { items, span }
                if items.iter().all(|i| matches!(i, Value::Tuple { .. })) =>
            {
                let [t, b, l, r] = self.four(v, "padding", &expected)?;
                let _ = items;
                Ok(Sp::new(Padding::Explicit { t, b, l, r }, *span))
            }
            Value::Int { .. } | Value::Tuple { .. } => {
                let hw = self.hw(v, "padding")?;
                Ok(Sp::new(Padding::Sym(hw.v), hw.span))
            }
            _ => Err(self.wrong(v, "padding", &expected)),
        }
    }

    /// `p`, `(ph, pw)` or `((t, b), (l, r))` as `[t, b, l, r]`.
    fn four(&self, v: &Value, name: &str, expected: &str) -> syn::Result<[u64; 4]> {
        match v {
            Value::Int { .. } => {
                let p = self.uint(v, name)?.v;
                Ok([p; 4])
            }
            Value::Tuple { items, .. } => match items.as_slice() {
                [Value::Tuple { items: a, .. }, Value::Tuple { items: b, .. }] => {
                    match (a.as_slice(), b.as_slice()) {
                        ([t, bo], [l, r]) => Ok([
                            self.uint(t, name)?.v,
                            self.uint(bo, name)?.v,
                            self.uint(l, name)?.v,
                            self.uint(r, name)?.v,
                        ]),
                        _ => Err(self.wrong(v, name, expected)),
                    }
                }
                [a, b]
                    if !matches!(a, Value::Tuple { .. }) && !matches!(b, Value::Tuple { .. }) =>
                {
                    let (h, w) = (self.uint(a, name)?.v, self.uint(b, name)?.v);
                    Ok([h, h, w, w])
                }
                _ => Err(self.wrong(v, name, expected)),
            },
            _ => Err(self.wrong(v, name, expected)),
        }
    }

    fn hw_or(&self, name: &str, default: Hw, span: Span) -> syn::Result<Sp<Hw>> {
        match self.get(name) {
            Some(v) => self.hw(v, name),
            None => Ok(Sp::new(default, span)),
        }
    }

    fn bool_or(&self, name: &str, default: bool) -> syn::Result<bool> {
        match self.get(name) {
            Some(v) => self.boolean(v, name),
            None => Ok(default),
        }
    }

    fn padding_or(&self, keywords: &[&str]) -> syn::Result<Sp<Padding>> {
        match self.get("padding") {
            Some(v) => self.padding(v, keywords),
            None => Ok(Sp::new(Padding::Sym((0, 0)), self.kind.span())),
        }
    }
}

/// Turns a call of a catalogue layer into a [`Spec`]; `label` names the layer
/// in messages (`"conv1: Conv2d"`).
pub fn spec(call: &LayerCall, def: &'static LayerDef, label: &str) -> syn::Result<Spec> {
    let b = bind(call, def, label)?;
    let at = call.kind.span();
    let act = |a| Ok(Spec::Activation(a));
    match def.name {
        "Dense" => Ok(Spec::Dense {
            units: b.uint(b.req("units")?, "units")?,
            bias: b.bool_or("bias", true)?,
        }),
        "ReLU" => act(Activation::ReLU),
        "Sigmoid" => act(Activation::Sigmoid),
        "Tanh" => act(Activation::Tanh),
        "Softmax" => act(Activation::Softmax),
        "LogSoftmax" => act(Activation::LogSoftmax),
        "GELU" => act(Activation::GeLU),
        "SiLU" => act(Activation::SiLU),
        "LeakyReLU" => Ok(Spec::LeakyReLU {
            alpha: match b.get("alpha") {
                Some(v) => b.float(v, "alpha")?.v,
                None => 0.01,
            },
        }),
        "Dropout" => Ok(Spec::Dropout {
            p: b.float(b.req("p")?, "p")?,
        }),
        "BatchNorm1d" => Ok(Spec::BatchNorm1d),
        "BatchNorm2d" => Ok(Spec::BatchNorm2d),
        "Flatten" => Ok(Spec::Flatten),
        "GlobalAvgPool" => Ok(Spec::GlobalAvgPool),
        "GlobalMaxPool" => Ok(Spec::GlobalMaxPool),
        "Conv2d" => {
            let filters = b.uint(b.req("filters")?, "filters")?;
            let kernel = b.hw(b.req("kernel")?, "kernel")?;
            Ok(Spec::Conv2d(ConvSpec {
                filters,
                kernel,
                stride: b.hw_or("stride", (1, 1), at)?,
                padding: b.padding_or(&["valid", "same", "full"])?,
                dilation: b.hw_or("dilation", (1, 1), at)?,
                groups: match b.get("groups") {
                    Some(v) => b.uint(v, "groups")?,
                    None => Sp::new(1, at),
                },
                bias: b.bool_or("bias", true)?,
            }))
        }
        "ConvTranspose2d" => {
            let filters = b.uint(b.req("filters")?, "filters")?;
            let kernel = b.hw(b.req("kernel")?, "kernel")?;
            Ok(Spec::ConvTranspose2d(ConvTSpec {
                filters,
                kernel,
                stride: b.hw_or("stride", (1, 1), at)?,
                padding: b.hw_or("padding", (0, 0), at)?,
                output_padding: b.hw_or("output_padding", (0, 0), at)?,
            }))
        }
        "MaxPool2d" | "AvgPool2d" => {
            let kernel = b.hw(b.req("kernel")?, "kernel")?;
            let pool = PoolSpec {
                kernel,
                stride: b.hw_or("stride", kernel.v, kernel.span)?,
                padding: b.padding_or(&["valid", "same"])?,
            };
            if def.name == "MaxPool2d" {
                Ok(Spec::MaxPool2d(pool))
            } else {
                Ok(Spec::AvgPool2d {
                    pool,
                    count_include_pad: b.bool_or("count_include_pad", true)?,
                })
            }
        }
        "AdaptiveAvgPool2d" => Ok(Spec::AdaptiveAvgPool2d {
            out: b.hw(b.req("output_size")?, "output_size")?,
        }),
        "AdaptiveMaxPool2d" => Ok(Spec::AdaptiveMaxPool2d {
            out: b.hw(b.req("output_size")?, "output_size")?,
        }),
        "ZeroPadding2d" => {
            let v = b.req("padding")?;
            let pad = b.four(
                v,
                "padding",
                "a number, a pair (h, w) or ((top, bottom), (left, right))",
            )?;
            Ok(Spec::ZeroPadding2d {
                pad: Sp::new(pad, v.span()),
            })
        }
        "UpSampling2d" => {
            let scale = b.hw(b.req("scale")?, "scale")?;
            let bilinear = match b.get("mode") {
                Some(v) => b.keyword(v, "mode", &["nearest", "bilinear"])? == "bilinear",
                None => false,
            };
            let align_corners = b.bool_or("align_corners", false)?;
            if align_corners && !bilinear {
                if let Some(v) = b.get("align_corners") {
                    return Err(syn::Error::new(
                        v.span(),
                        format!("{label}: align_corners only applies to mode = bilinear"),
                    ));
                }
            }
            Ok(Spec::UpSampling2d {
                scale,
                bilinear,
                align_corners,
            })
        }
        other => Err(syn::Error::new(
            at,
            format!("layer `{other}` is not supported yet"),
        )),
    }
}

/// `snake_case` of a type name for generated field names (`MyEncoder` -> `my_encoder`).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = || CATALOGUE.iter().map(|d| d.name);
        assert_eq!(closest("Dence", names()), Some("Dense"));
        assert_eq!(closest("Relu", names()), Some("ReLU"));
        assert_eq!(closest("Conv3d", names()), Some("Conv2d"));
        assert_eq!(closest("Maxpool", names()), Some("MaxPool2d"));
        assert_eq!(closest("Transformer", names()), None);
        assert_eq!(closest("strid", ["stride", "padding"]), Some("stride"));
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("Encoder"), "encoder");
        assert_eq!(snake_case("MyEncoder"), "my_encoder");
        assert_eq!(snake_case("MLPHead"), "mlp_head");
        assert_eq!(snake_case("Net2Net"), "net2_net");
    }

    #[test]
    fn catalogue_names_are_unique() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            for b in &CATALOGUE[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.snake, b.snake);
            }
        }
    }
}
