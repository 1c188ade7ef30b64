//! Test helpers: bind and infer one layer written as source text, and read
//! the code it emits.

use proc_macro2::Span;
use quote::quote;

use super::{args, lookup, Cx, Inferred};
use crate::parse::{parse_file, Item, Node as SynNode};

/// Binds and infers `call` (e.g. `"Conv2d(8, kernel = 3)"`) on `input`.
pub fn infer(call: &str, input: &[u64]) -> syn::Result<Inferred> {
    let src = format!("pub T(input: [1]) {{ {call} }}");
    let file = parse_file(syn::parse_str(&src).expect("test source lexes"))?;
    let Some(Item::Model(m)) = file.items.into_iter().next() else {
        panic!("not a model: {src}")
    };
    let SynNode::Call(c) = &m.body.stmts[0].node else {
        panic!("not a layer call: {call}")
    };
    let kind = lookup(&c.kind.to_string()).expect("a catalogue layer");
    let b = args::bind(c, kind, "l: X", input)?;
    let node = kind.bind(&b)?;
    node.infer(
        input,
        &Cx {
            label: "l: X",
            span: Span::call_site(),
        },
    )
}

/// The output shape, panicking on an error.
pub fn out(call: &str, input: &[u64]) -> Vec<u64> {
    match infer(call, input) {
        Ok(i) => i.output,
        Err(e) => panic!("{call} on {input:?}: unexpected error: {e}"),
    }
}

/// The error message, panicking on success.
pub fn msg(call: &str, input: &[u64]) -> String {
    match infer(call, input) {
        Ok(i) => panic!("{call} on {input:?}: expected an error, got {:?}", i.output),
        Err(e) => e.to_string(),
    }
}

/// The emitted type (and constructor or post-build call), whitespace removed, with the layers
/// path written as `L::`.
pub fn code(call: &str, input: &[u64]) -> String {
    let i = infer(call, input).unwrap_or_else(|e| panic!("{call}: {e}"));
    let c = i.code.emit(&quote!(L));
    let ctor = c.ctor.map(|t| t.to_string()).unwrap_or_default();
    let post = c.post.map(|t| t.to_string()).unwrap_or_default();
    format!("{} {ctor}{post}", c.ty).replace(' ', "")
}
