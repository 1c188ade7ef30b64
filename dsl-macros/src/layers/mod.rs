//! The layer catalogue of `model!`: one module per layer kind (or tight
//! family), each holding its argument table, binding and validation, shape
//! rule (output shape, parameter and multiply-accumulate counts), code
//! emission and docs line. [`KINDS`] is the one list that dispatches to them.
//!
//! Adding a layer: write `layers/<name>.rs` with a unit struct implementing
//! [`LayerKind`] (and a bound spec implementing [`Node`], a resolved form
//! implementing [`Emit`]), add one line `<name>: [<Kind>],` to the
//! `catalogue!` list (it declares the module and its [`KINDS`] entries), and
//! its docs line to the table in `lib.rs` (a test keeps them equal).
//!
//! The pipeline for one call: [`args::bind`] matches the written arguments
//! to the table, [`LayerKind::bind`] turns them into a typed [`Node`],
//! [`Node::infer`] maps the input shape to an [`Inferred`] whose
//! [`Emit::emit`] writes the runtime type. Composite nodes (residual,
//! parallel, repeat, groups, blocks) own fields of their own, so they are
//! planned by [`crate::plan`] as scopes; their shape rules live here in
//! [`residual`] and [`parallel`].

use std::fmt::Debug;

use proc_macro2::{Span, TokenStream};

pub mod args;
pub mod common;
pub mod gaussian;
pub mod names;
pub mod parallel;
pub mod recurrent;
pub mod residual;
pub mod window;

#[cfg(test)]
pub mod test_util;

use args::{ArgSpec, Bound};

/// Declares the layer modules and [`KINDS`] from one list: a layer module
/// and the kinds it defines are one line.
macro_rules! catalogue {
    ($($module:ident: [$($kind:ident),+ $(,)?],)+) => {
        $(mod $module;)+

        /// Every layer `model!` knows, in the order of the docs table.
        pub static KINDS: &[&dyn LayerKind] = &[$($(&$module::$kind,)+)+];
    };
}

catalogue! {
    dense: [Dense],
    activation: [RELU, SIGMOID, TANH, SOFTMAX, LOG_SOFTMAX, GELU, SILU],
    leaky_relu: [LeakyReLU],
    dropout: [DROPOUT, STOCHASTIC_DEPTH],
    batch_norm: [BATCH_NORM_1D, BATCH_NORM_2D],
    flatten: [Flatten],
    conv2d: [Conv2d],
    conv_transpose2d: [ConvTranspose2d],
    pool: [MAX_POOL, AVG_POOL],
    global_pool: [GLOBAL_AVG, GLOBAL_MAX],
    adaptive_pool: [ADAPTIVE_AVG, ADAPTIVE_MAX],
    zero_padding: [ZeroPadding2d],
    up_sampling: [UpSampling2d],
    local_response_norm: [LocalResponseNorm],
    simple_rnn: [SimpleRnn],
    lstm: [Lstm],
    gru: [Gru],
    bidirectional: [Bidirectional],
    embedding: [Embedding],
}

/// One layer kind of the catalogue.
pub trait LayerKind: Sync {
    /// The name as written in `model!` (`Conv2d`).
    fn name(&self) -> &'static str;
    /// Prefix of generated field names (`conv2d` -> `conv2d_1`).
    fn snake(&self) -> &'static str;
    /// The argument table: positional ones first, in order.
    fn args(&self) -> &'static [ArgSpec];
    /// What PyTorch passes as the first argument and sxima infers from the
    /// input's first dim (`"input channels"`), to recognise PyTorch's order.
    fn inferred_input(&self) -> Option<&'static str> {
        None
    }
    /// Whether it consumes integer token ids (`Embedding`); every other
    /// layer takes float features, and [`crate::plan`] enforces both.
    fn takes_tokens(&self) -> bool {
        false
    }
    /// Whether it accepts a run-time dimension ([`common::DYN`], `[seq, 28]`):
    /// layers applied per element or per time step. The others get fixed
    /// shapes only ([`crate::plan`] rejects the rest with a spanned error).
    fn any_length(&self) -> bool {
        false
    }
    /// The row of the docs table in `lib.rs` (shared by a family); a test
    /// keeps the table equal to these rows.
    #[allow(dead_code)]
    fn doc(&self) -> &'static str;
    /// Checks the bound arguments' types and values that do not depend on the input.
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>>;
}

/// What names a node in messages and where errors about it point.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    /// `"conv1: Conv2d"`.
    pub label: &'a str,
    /// The layer name as written.
    pub span: Span,
}

/// A node of a model: maps a per-sample input shape to its output and code.
pub trait Node: Debug {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred>;
}

/// The result of inferring one node.
#[derive(Debug)]
pub struct Inferred {
    pub output: Vec<u64>,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates per sample (0 for layers without products).
    pub macs: u64,
    /// How the output was computed, for error messages (`"height and width: (28 + 0 + 0 - 5) / 1 + 1 = 24"`).
    pub explain: Option<String>,
    /// The resolved layer, ready to write its runtime type.
    pub code: Box<dyn Emit>,
}

impl Inferred {
    /// An output with no parameters and no products.
    pub fn plain(output: Vec<u64>, code: impl Emit + 'static) -> Self {
        Inferred {
            output,
            params: 0,
            macs: 0,
            explain: None,
            code: Box::new(code),
        }
    }
}

/// A resolved layer: every number known, writes its runtime type.
pub trait Emit: Debug {
    /// `layers` is the path of `sxima_runtime::layers` in the generated code.
    fn emit(&self, layers: &TokenStream) -> LayerCode;
}

/// How one layer is typed and built in the generated struct.
#[derive(Debug)]
pub struct LayerCode {
    /// The field's type (may use the struct's `E` and `D`).
    pub ty: TokenStream,
    /// `None` for layers with parameters (built by the dfdx visitor), else
    /// the expression that builds it.
    pub ctor: Option<TokenStream>,
    /// For a visited layer: a method call applied to it once built
    /// (`.with_eps_momentum(0.001, 0.1)`), for settings that are not tensors.
    pub post: Option<TokenStream>,
}

impl LayerCode {
    /// A parameterless layer built by `<ty>::new()`.
    pub fn new_call(ty: TokenStream) -> Self {
        LayerCode {
            ctor: Some(quote::quote!(<#ty>::new())),
            ty,
            post: None,
        }
    }
    /// A parameterless layer built by `Default::default()`.
    pub fn default_call(ty: TokenStream) -> Self {
        LayerCode {
            ty,
            ctor: Some(quote::quote!(::core::default::Default::default())),
            post: None,
        }
    }
    /// A layer with parameters (built by the visitor).
    pub fn visited(ty: TokenStream) -> Self {
        LayerCode {
            ty,
            ctor: None,
            post: None,
        }
    }
}

/// Looks a layer kind up by its exact name.
pub fn lookup(name: &str) -> Option<&'static dyn LayerKind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The docs table rows, one per layer module (families share a row).
#[cfg(test)]
pub fn doc_rows() -> Vec<&'static str> {
    let mut rows: Vec<&'static str> = Vec::new();
    for k in KINDS {
        if !rows.contains(&k.doc()) {
            rows.push(k.doc());
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_field_prefixes_are_unique() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert_ne!(a.name(), b.name());
                assert_ne!(a.snake(), b.snake());
            }
        }
    }

    #[test]
    fn argument_tables_are_well_formed() {
        for k in KINDS {
            let args = k.args();
            let positional = args.iter().take_while(|a| a.positional).count();
            assert!(
                args[positional..].iter().all(|a| !a.positional),
                "{}: positional arguments must lead",
                k.name()
            );
            let required = args.iter().take_while(|a| a.default.is_none()).count();
            assert!(
                args[required..].iter().all(|a| a.default.is_some()),
                "{}: required arguments must lead",
                k.name()
            );
            assert!(
                required <= positional,
                "{}: a required argument must be positional",
                k.name()
            );
            // The docs row names the layer and every argument with its default.
            let doc = k.doc();
            assert!(doc.contains(&format!("`{}`", k.name())), "{doc}");
            for a in args {
                let written = match a.default {
                    Some(d) => format!("`{} = {d}`", a.name),
                    None => format!("`{}`", a.name),
                };
                assert!(
                    doc.contains(&written),
                    "{}: {written} not in {doc}",
                    k.name()
                );
            }
        }
    }

    /// The table in `lib.rs` is exactly the modules' docs lines.
    #[test]
    fn lib_docs_table_matches_the_layer_modules() {
        let lib = include_str!("../lib.rs");
        let table: Vec<&str> = lib
            .lines()
            .map(|l| l.trim_start_matches("///").trim())
            .skip_while(|l| !l.starts_with("| layer |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(table, doc_rows());
    }
}
