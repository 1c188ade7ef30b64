//! Model-level inference: walks a parsed model, names its layers, resolves
//! each call against the catalogue ([`crate::layers`]) and threads the shape
//! through each layer's [`crate::layers::Node::infer`]. The result, a
//! [`ModelPlan`], holds every number the code generator writes.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::Ident;

use crate::layers::args::{bind, kind_text};
use crate::layers::common::fmt_shape;
use crate::layers::names::{may_be_model, snake_case, unknown_layer};
use crate::layers::{lookup, Cx, Inferred};
use crate::parse::{DimLit, File, Item, ModelDef, Node, ShapeLit};

/// One layer of a model, ready for code generation.
#[derive(Debug)]
pub struct PlannedLayer {
    /// Field name (written or generated).
    pub field: Ident,
    /// The layer as written, for the summary (`Dense(128)`).
    pub kind_text: String,
    /// Per-sample input and output shapes.
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    pub what: What,
}

/// What a layer is.
#[derive(Debug)]
pub enum What {
    /// A catalogue layer.
    Layer(Inferred),
    /// A model type from another `model!` call; its shapes are checked by
    /// const assertions spanned on `ty`.
    Nested { ty: Ident },
}

/// A model with every layer's shape inferred.
#[derive(Debug)]
pub struct ModelPlan<'a> {
    pub def: &'a ModelDef,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    pub layers: Vec<PlannedLayer>,
}

/// Infers every item of a `model!` call; one result per item.
pub fn infer_file(file: &File) -> Vec<syn::Result<ModelPlan<'_>>> {
    file.items
        .iter()
        .map(|item| match item {
            Item::Model(m) => infer_model(m),
            Item::Block(b) => Err(syn::Error::new(
                b.block_kw.span(),
                "block templates are not supported yet",
            )),
        })
        .collect()
}

/// Fixed, non-zero dims of a written shape.
pub fn fixed_dims(shape: &ShapeLit, what: &str) -> syn::Result<Vec<u64>> {
    if shape.dims.len() > 5 {
        return Err(syn::Error::new(
            shape.span,
            format!(
                "{what}: {} dims given; at most 5 per sample are supported",
                shape.dims.len()
            ),
        ));
    }
    shape
        .dims
        .iter()
        .map(|d| match d {
            DimLit::Fixed { value: 0, span } => Err(syn::Error::new(
                *span,
                format!("{what}: a dimension must be at least 1"),
            )),
            DimLit::Fixed { value, .. } => Ok(*value),
            DimLit::Dynamic { span } => Err(syn::Error::new(
                *span,
                "dynamic dimensions are not supported yet; write a number",
            )),
        })
        .collect()
}

/// Infers one model.
pub fn infer_model(def: &ModelDef) -> syn::Result<ModelPlan<'_>> {
    let input = fixed_dims(&def.input, "input shape")?;
    if def.body.stmts.is_empty() {
        return Err(syn::Error::new(
            def.body.span,
            format!("model `{}` has no layers", def.name),
        ));
    }
    // Written names first, so generated ones avoid them.
    let mut taken: HashSet<String> = HashSet::new();
    for stmt in &def.body.stmts {
        if let Some(n) = &stmt.name {
            let word = n.to_string();
            if word.starts_with("__") {
                return Err(syn::Error::new(
                    n.span(),
                    "layer names starting with `__` are reserved",
                ));
            }
            if !taken.insert(word) {
                return Err(syn::Error::new(
                    n.span(),
                    format!("duplicate layer name `{n}` in model `{}`", def.name),
                ));
            }
        }
    }
    let mut counters: HashMap<String, usize> = HashMap::new();
    let mut gen_name = |prefix: &str, span: Span, taken: &mut HashSet<String>| -> Ident {
        let c = counters.entry(prefix.to_string()).or_insert(0);
        loop {
            *c += 1;
            let candidate = format!("{prefix}_{c}");
            if taken.insert(candidate.clone()) {
                return Ident::new(&candidate, span);
            }
        }
    };

    let mut shape = input.clone();
    let mut layers = Vec::new();
    for stmt in &def.body.stmts {
        let call = match &stmt.node {
            Node::Call(c) => c,
            other => {
                let what = match other {
                    Node::Group(_) => "layer groups `{ .. }`",
                    Node::Repeat { .. } => "`repeat`",
                    Node::Residual { .. } => "`residual`",
                    Node::Parallel { .. } => "`parallel`",
                    Node::Call(_) => "this construct",
                };
                return Err(syn::Error::new(
                    other.span(),
                    format!("{what} is not supported yet"),
                ));
            }
        };
        let kind_word = call.kind.to_string();
        let known = lookup(&kind_word);
        let field = match (&stmt.name, known) {
            (Some(n), _) => n.clone(),
            (None, Some(k)) => gen_name(k.snake(), call.kind.span(), &mut taken),
            (None, None) => gen_name(&snake_case(&kind_word), call.kind.span(), &mut taken),
        };
        let label = format!("{field}: {kind_word}");
        let kind_text = kind_text(call);
        let Some(kind) = known else {
            // A model type used as a layer: no arguments, and `-> [..]`.
            let assert = match &stmt.assert {
                Some(a) if call.args.is_none() && may_be_model(&call.kind) => a,
                a => {
                    return Err(unknown_layer(call, &field.to_string(), a.is_some()));
                }
            };
            let out = fixed_dims(assert, &label)?;
            layers.push(PlannedLayer {
                field,
                kind_text,
                input: shape.clone(),
                output: out.clone(),
                what: What::Nested {
                    ty: call.kind.clone(),
                },
            });
            shape = out;
            continue;
        };
        let bound = bind(call, kind, &label, &shape)?;
        let node = kind.bind(&bound)?;
        let cx = Cx {
            label: &label,
            span: call.kind.span(),
        };
        let inferred = node.infer(&shape, &cx)?;
        if let Some(assert) = &stmt.assert {
            let want = fixed_dims(assert, &label)?;
            if want != inferred.output {
                let mut msg = format!(
                    "{field} gives {} but `-> {}` was asserted",
                    fmt_shape(&inferred.output),
                    fmt_shape(&want)
                );
                if let Some(ex) = &inferred.explain {
                    msg.push_str(&format!(" ({ex})"));
                }
                return Err(syn::Error::new(assert.span, msg));
            }
        }
        let output = inferred.output.clone();
        layers.push(PlannedLayer {
            field,
            kind_text,
            input: std::mem::replace(&mut shape, output.clone()),
            output,
            what: What::Layer(inferred),
        });
    }
    Ok(ModelPlan {
        def,
        input,
        output: shape,
        layers,
    })
}
