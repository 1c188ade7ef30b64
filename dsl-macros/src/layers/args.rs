//! Argument tables and binding: how a written call (`Conv2d(32, kernel = 5)`)
//! is matched against a layer's [`ArgSpec`] table, and the typed getters a
//! layer module uses to read its values.
//!
//! Argument errors (unknown, duplicate, missing, ill-typed, too many
//! positional) are reported here, spanned on the offending argument; Keras
//! and PyTorch spellings (`kernel_size`, `strides`, `in_channels`, ...) and
//! PyTorch's `(in, out, kernel)` order get a "did you mean".

use proc_macro2::Span;
use syn::Ident;

use super::names::closest;
use super::LayerKind;
use crate::parse::{Arg, LayerCall, Value};

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

/// One argument of a layer's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    /// May be written without its name (only the leading arguments a Keras
    /// user expects positionally).
    pub positional: bool,
    /// The default as documented (`"true"`, `"kernel"`); `None` = required.
    pub default: Option<&'static str>,
}

impl ArgSpec {
    /// A required positional argument.
    pub const fn required(name: &'static str) -> Self {
        ArgSpec {
            name,
            positional: true,
            default: None,
        }
    }
    /// An optional positional argument.
    pub const fn positional(name: &'static str, default: &'static str) -> Self {
        ArgSpec {
            name,
            positional: true,
            default: Some(default),
        }
    }
    /// An optional argument that must be written `name = value`.
    pub const fn named(name: &'static str, default: &'static str) -> Self {
        ArgSpec {
            name,
            positional: false,
            default: Some(default),
        }
    }
}

/// Keras/PyTorch argument names and what sxima calls them. A suggestion is
/// made only when the sxima name is an argument of the layer at hand.
const ARG_ALIASES: &[(&str, &str)] = &[
    ("kernel_size", "kernel"),
    ("pool_size", "kernel"),
    ("strides", "stride"),
    ("dilation_rate", "dilation"),
    ("negative_slope", "alpha"),
    ("scale_factor", "scale"),
    ("size", "scale"),
    ("interpolation", "mode"),
    ("out_channels", "filters"),
    ("units", "filters"),
    ("out_features", "units"),
    ("hidden_size", "units"),
    ("merge_mode", "merge"),
    ("num_embeddings", "vocab"),
    ("input_dim", "vocab"),
    ("embedding_dim", "dim"),
    ("output_dim", "dim"),
    ("filters", "units"),
    ("use_bias", "bias"),
    ("rate", "p"),
    ("drop", "p"),
];

/// Argument names of Keras/PyTorch that sxima infers from the input shape.
const INFERRED_ARGS: &[&str] = &[
    "in_channels",
    "in_features",
    "input_size",
    "num_features",
    "input_shape",
    "input_dim",
    "channels",
];

/// Arguments matched to a layer's table.
pub struct Bound<'a> {
    pub kind: &'static dyn LayerKind,
    /// The layer name as written (errors about the whole layer point here).
    pub ident: &'a Ident,
    /// Names the layer in messages (`"conv1: Conv2d"`).
    pub label: &'a str,
    values: Vec<Option<&'a Value>>,
}

fn names_of(args: &[ArgSpec], keep: impl Fn(&ArgSpec) -> bool) -> Vec<&'static str> {
    args.iter().filter(|a| keep(a)).map(|a| a.name).collect()
}

/// "takes (filters, kernel)" / "takes no arguments" (after the label, which names the layer).
fn takes(kind: &dyn LayerKind) -> String {
    let pos = names_of(kind.args(), |a| a.positional);
    if kind.args().is_empty() {
        "takes no arguments".to_string()
    } else if pos.is_empty() {
        "takes only named arguments".to_string()
    } else {
        format!("takes ({})", pos.join(", "))
    }
}

/// The error for a call in PyTorch's order, whose first argument is the
/// input channels / features that sxima infers (`Conv2d(1, 32, 3)` on
/// `[1, 28, 28]`), with the call it probably meant; `None` if it does not
/// look like one.
fn pytorch_order(
    kind: &dyn LayerKind,
    label: &str,
    list: &[Arg],
    input: &[u64],
) -> Option<syn::Error> {
    let args = kind.args();
    let what = kind.inferred_input()?;
    let first = list.first().filter(|a| a.name.is_none())?;
    let Value::Int { value, .. } = &first.value else {
        return None;
    };
    // The features are the first dim ([C, H, W], [I]), or the last of a sequence [T, F].
    let is_input = |d: Option<&u64>| d.map(|&d| i128::from(d)) == Some(*value);
    let inferred = is_input(input.first()) || (input.len() == 2 && is_input(input.last()));
    if !inferred || list.len() - 1 > args.len() {
        return None;
    }
    let rest: Vec<String> = list[1..]
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (arg, spec))| match (&arg.name, i) {
            (Some(n), _) => format!("{n} = {}", arg.value.text()),
            (None, 0) => arg.value.text(),
            (None, _) => format!("{} = {}", spec.name, arg.value.text()),
        })
        .collect();
    let meant = if rest.is_empty() {
        kind.name().to_string()
    } else {
        format!("{}({})", kind.name(), rest.join(", "))
    };
    Some(syn::Error::new(
        first.span(),
        format!(
            "{label} {}; the {what} ({value}) are inferred from the input; did you mean `{meant}`?",
            takes(kind)
        ),
    ))
}

/// The error for a positional argument past the positional ones.
fn too_many_positional(
    kind: &dyn LayerKind,
    label: &str,
    list: &[Arg],
    extra: usize,
    input: &[u64],
) -> syn::Error {
    if let Some(e) = pytorch_order(kind, label, list, input) {
        return e;
    }
    let mut msg = format!("{label} {}", takes(kind));
    if let Some(spec) = kind.args().get(extra) {
        msg.push_str(&format!(
            "; name the others: `{} = {}`",
            spec.name,
            list[extra].value.text()
        ));
    }
    syn::Error::new(list[extra].span(), msg)
}

/// The error for a named argument the layer does not have.
fn unknown_named(kind: &dyn LayerKind, name: &Ident) -> syn::Error {
    let word = name.to_string();
    let args = kind.args();
    let has = |n: &str| args.iter().any(|a| a.name == n);
    let mut msg = format!("unknown argument `{word}` for {}", kind.name());
    let alias = ARG_ALIASES
        .iter()
        .find(|(from, to)| *from == word && has(to))
        .map(|(_, to)| *to);
    if let Some(to) = alias {
        msg.push_str(&format!("; did you mean `{to}`?"));
    } else if INFERRED_ARGS.contains(&word.as_str()) {
        msg.push_str("; sxima infers it from the input shape: remove it");
    } else if word == "activation" {
        msg.push_str("; write the activation as its own layer after it, e.g. `ReLU`");
    } else if let Some(s) = closest(&word, args.iter().map(|a| a.name)) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    } else if args.is_empty() {
        msg.push_str(&format!("; {} takes no arguments", kind.name()));
    } else {
        let all: Vec<&str> = args.iter().map(|a| a.name).collect();
        msg.push_str(&format!("; it takes {}", all.join(", ")));
    }
    syn::Error::new(name.span(), msg)
}

/// Matches `call`'s arguments to `kind`'s table; `input` is the per-sample
/// input shape (used only to recognise PyTorch's argument order).
pub fn bind<'a>(
    call: &'a LayerCall,
    kind: &'static dyn LayerKind,
    label: &'a str,
    input: &[u64],
) -> syn::Result<Bound<'a>> {
    let args = kind.args();
    let positional = args.iter().take_while(|a| a.positional).count();
    let mut values: Vec<Option<&Value>> = vec![None; args.len()];
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
                if pos >= positional {
                    return Err(too_many_positional(kind, label, list, pos, input));
                }
                pos
            }
            Some(name) => {
                seen_named = true;
                let word = name.to_string();
                match args.iter().position(|a| a.name == word) {
                    Some(i) => i,
                    None => return Err(unknown_named(kind, name)),
                }
            }
        };
        if values[slot].is_some() {
            if let Some(e) = pytorch_order(kind, label, list, input) {
                return Err(e);
            }
            let span = arg.name.as_ref().map_or(arg.span(), Ident::span);
            return Err(syn::Error::new(
                span,
                format!("{label}: argument `{}` is given twice", args[slot].name),
            ));
        }
        values[slot] = Some(&arg.value);
    }
    Ok(Bound {
        kind,
        ident: &call.kind,
        label,
        values,
    })
}

impl<'a> Bound<'a> {
    /// Where errors about the whole layer point.
    pub fn span(&self) -> Span {
        self.ident.span()
    }

    /// The value written for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        let i = self.kind.args().iter().position(|a| a.name == name)?;
        self.values[i]
    }

    /// The value of a required argument.
    pub fn req(&self, name: &str) -> syn::Result<&'a Value> {
        self.get(name).ok_or_else(|| {
            let required = names_of(self.kind.args(), |a| a.default.is_none());
            syn::Error::new(
                self.ident.span(),
                format!(
                    "{}: missing required argument `{name}` ({} needs {})",
                    self.label,
                    self.kind.name(),
                    required.join(", ")
                ),
            )
        })
    }

    /// "`name` expects X, found Y".
    pub fn wrong(&self, v: &Value, name: &str, expected: &str) -> syn::Error {
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

    /// A non-negative integer.
    pub fn uint(&self, v: &Value, name: &str) -> syn::Result<Sp<u64>> {
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

    /// A required non-negative integer.
    pub fn req_uint(&self, name: &str) -> syn::Result<Sp<u64>> {
        self.uint(self.req(name)?, name)
    }

    /// A number or a pair `(height, width)`.
    pub fn hw(&self, v: &Value, name: &str) -> syn::Result<Sp<Hw>> {
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

    /// A required number or pair.
    pub fn req_hw(&self, name: &str) -> syn::Result<Sp<Hw>> {
        self.hw(self.req(name)?, name)
    }

    /// An optional number or pair (spanned on the layer when absent).
    pub fn hw_or(&self, name: &str, default: Hw) -> syn::Result<Sp<Hw>> {
        match self.get(name) {
            Some(v) => self.hw(v, name),
            None => Ok(Sp::new(default, self.span())),
        }
    }

    /// A number (integers are accepted).
    pub fn float(&self, v: &Value, name: &str) -> syn::Result<Sp<f64>> {
        match v {
            Value::Float { value, span, .. } => Ok(Sp::new(*value, *span)),
            // An integer literal is at most u64::MAX in magnitude; f64 rounds it.
            Value::Int { value, span, .. } => Ok(Sp::new(*value as f64, *span)),
            _ => Err(self.wrong(v, name, "a number")),
        }
    }

    /// An optional number (spanned on the layer when absent).
    pub fn float_or(&self, name: &str, default: f64) -> syn::Result<Sp<f64>> {
        match self.get(name) {
            Some(v) => self.float(v, name),
            None => Ok(Sp::new(default, self.span())),
        }
    }

    /// `true` or `false`, defaulting to `default`.
    pub fn bool_or(&self, name: &str, default: bool) -> syn::Result<bool> {
        match self.get(name) {
            Some(Value::Bool { value, .. }) => Ok(*value),
            Some(v) => Err(self.wrong(v, name, "`true` or `false`")),
            None => Ok(default),
        }
    }

    /// One of the `allowed` keywords.
    pub fn keyword(&self, v: &Value, name: &str, allowed: &[&str]) -> syn::Result<String> {
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

    /// `p`, `(ph, pw)` or `((t, b), (l, r))` as `[t, b, l, r]`.
    pub fn four(&self, v: &Value, name: &str, expected: &str) -> syn::Result<[u64; 4]> {
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
