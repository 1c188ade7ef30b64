//! `Bidirectional(layer, merge = concat)`: a `SimpleRnn`, `Lstm` or `Gru`
//! run forwards and, with its own parameters, backwards over the sequence;
//! the two results concatenated (`2 * units`, PyTorch's `bidirectional =
//! True`), summed or averaged (`units`). The wrapped layer's
//! `return_sequences` picks `[T, O]` or `[O]`. Parameters: the forward
//! direction's PyTorch names and the backward's with `_reverse`.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{bind, ArgSpec, Bound};
use super::common::{add, err, lit, mul};
use super::recurrent::{sequence_input, spec, Cell, RecurrentCode, RecurrentSpec};
use super::{lookup, Cx, Emit, Inferred, LayerCode, LayerKind, Node};
use crate::parse::Value;

pub struct Bidirectional;

pub const DOC: &str = "| `Bidirectional` | `layer` (`SimpleRnn`, `Lstm` or `Gru` call), `merge = concat` (or `sum`, `mean`) | `[T, F] -> [T, 2 * units]` (concat) or `[T, units]`; `[..]` without steps when the layer returns its last state |";

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("layer"),
    ArgSpec::named("merge", "concat"),
];

/// How the two directions are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MergeMode {
    Concat,
    Sum,
    Mean,
}

impl LayerKind for Bidirectional {
    fn name(&self) -> &'static str {
        "Bidirectional"
    }
    fn snake(&self) -> &'static str {
        "bidirectional"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn any_length(&self) -> bool {
        true
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let layer = b.req("layer")?;
        let Value::Call(call) = layer else {
            let found = match layer {
                Value::Ident(i) => format!("`{i}`"),
                other => format!("{} `{}`", other.describe(), other.text()),
            };
            return Err(err(
                layer.span(),
                format!(
                    "{} wraps a recurrent layer call such as `Lstm(64)`, found {found}",
                    b.label
                ),
            ));
        };
        let word = call.kind.to_string();
        let cell = match word.as_str() {
            "SimpleRnn" => Cell::Tanh,
            "Lstm" => Cell::Lstm,
            "Gru" => Cell::Gru(true),
            _ => {
                return Err(err(
                    call.kind.span(),
                    format!(
                        "{} wraps a recurrent layer (SimpleRnn, Lstm or Gru), not `{word}`",
                        b.label
                    ),
                ))
            }
        };
        let kind = lookup(&word).ok_or_else(|| err(call.kind.span(), "unknown layer"))?;
        let label = format!("{} ({word})", b.label);
        let inner = spec(cell, &bind(call, kind, &label, &[])?)?;
        let merge = match b.get("merge") {
            None => MergeMode::Concat,
            Some(v) => match b.keyword(v, "merge", &["concat", "sum", "mean"])?.as_str() {
                "sum" => MergeMode::Sum,
                "mean" => MergeMode::Mean,
                _ => MergeMode::Concat,
            },
        };
        Ok(Box::new(BidirectionalSpec { inner, merge }))
    }
}

#[derive(Debug)]
struct BidirectionalSpec {
    inner: RecurrentSpec,
    merge: MergeMode,
}

impl Node for BidirectionalSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (t, f) = sequence_input(input, cx)?;
        let label = cx.label;
        let h = self.inner.units;
        let width = match self.merge {
            MergeMode::Concat => mul(2, h.v, h.span, label)?,
            MergeMode::Sum | MergeMode::Mean => h.v,
        };
        let one = self.inner.params(f, label)?;
        let macs = self.inner.macs(t, f, label)?;
        Ok(Inferred {
            output: self.inner.output(t, width),
            params: add(one, one, h.span, label)?,
            macs: add(macs, macs, h.span, label)?,
            explain: None,
            code: Box::new(BidirectionalCode {
                inner: self.inner.code(f),
                width,
                merge: self.merge,
            }),
        })
    }
}

#[derive(Debug)]
struct BidirectionalCode {
    inner: RecurrentCode,
    width: u64,
    merge: MergeMode,
}

impl Emit for BidirectionalCode {
    /// Runtime: `Bidirectional<Lstm<..>, O, Concat | Sum | Mean>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let inner = self.inner.ty(l);
        let o = lit(self.width);
        let m = match self.merge {
            MergeMode::Concat => quote!(#l::Concat),
            MergeMode::Sum => quote!(#l::Sum),
            MergeMode::Mean => quote!(#l::Mean),
        };
        LayerCode::visited(quote!(#l::Bidirectional<#inner, #o, #m>))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg};

    #[test]
    fn merges_shapes_and_code() {
        let i = infer("Bidirectional(Lstm(5, return_sequences = true))", &[4, 3]).unwrap();
        assert_eq!((i.output, i.params), (vec![4, 10], 2 * (4 * 5 * 8 + 40)));
        let i = infer("Bidirectional(Gru(3), merge = mean)", &[4, 2]).unwrap();
        assert_eq!(i.output, vec![3]);
        assert_eq!(
            code("Bidirectional(SimpleRnn(2), merge = sum)", &[4, 3]),
            "L::Bidirectional<L::SimpleRnn<3,2,E,D,L::LastStep,0>,2,L::Sum>"
        );
    }

    #[test]
    fn errors() {
        assert!(msg("Bidirectional(Dense(3))", &[4, 3]).contains("not `Dense`"));
        assert!(msg("Bidirectional(lstm)", &[4, 3]).contains("found `lstm`"));
        assert!(msg("Bidirectional(Lstm(3), merge = max)", &[4, 3]).contains("unknown merge `max`"));
        assert!(msg("Bidirectional(Lstm(3, units = 4))", &[4, 3]).contains("given twice"));
        assert!(msg("Bidirectional(Lstm(3))", &[12]).contains("gets a vector"));
    }
}
