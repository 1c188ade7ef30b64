//! Model-level inference: walks a parsed model, expands block templates
//! ([`crate::template`]), names every layer, resolves each call against the
//! catalogue ([`crate::layers`]) and threads the shape through each layer's
//! [`crate::layers::Node::infer`] and through the composite nodes
//! ([`crate::layers::residual`], [`crate::layers::parallel`]). The result, a [`ModelPlan`], is a tree of
//! [`Scope`]s (one generated struct each) holding every number the code
//! generator writes.
//!
//! Naming follows torchvision: a named composite (`layer1: repeat 2 { .. }`,
//! a block use, `{ .. }`) is a field of its own struct; `repeat` and groups
//! number their children from 0 (`layer1.0.conv1`); an unnamed `residual` or
//! `parallel` is transparent, its layers (and `downsample`, the branches)
//! being fields of the enclosing struct, as in torchvision's `BasicBlock`.
//! A branch named `_` is transparent too (`_ { }` is the identity, `_ { .. }`
//! puts its layers in the enclosing struct: squeeze-and-excitation's `fc1`,
//! DenseNet's concatenated input), and a branch that is one unnamed block
//! use or group `{ .. }` is that block or group (`branch2.0.conv`).

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use quote::{format_ident, quote_spanned};
use syn::Ident;

use crate::layers::args::{bind, kind_text};
use crate::layers::common::{fmt_shape, has_dyn, is_tokens, DYN, TOKENS};
use crate::layers::gaussian;
use crate::layers::names::{may_be_model, snake_case, unknown_layer};
use crate::layers::parallel::{self as compose_par, Merge};
use crate::layers::residual as compose;
use crate::layers::{lookup, Cx, Inferred};
use crate::parse::{
    parse_body_tokens, Args, Body, DimLit, File, Item, ModelDef, Node, ShapeLit, Stmt, Value,
};
use crate::template::{bind_args, subst_body, Env, Templates};

/// One field of a generated struct, ready for code generation.
#[derive(Debug)]
pub struct PlannedLayer {
    /// Rust field name (written, generated, or `_0` for child 0).
    pub field: Ident,
    /// The name in parameter paths (`conv1`, `0`).
    pub path: String,
    /// The layer as written, for the summary (`Dense(128)`).
    pub kind_text: String,
    /// Per-sample input and output shapes.
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    pub what: What,
}

/// What a field is.
#[derive(Debug)]
pub enum What {
    /// A catalogue layer.
    Layer(Inferred),
    /// A model type from another `model!` call; its shapes are checked by
    /// const assertions spanned on `ty`.
    Nested { ty: Ident },
    /// A composite with its own generated struct.
    Scope(Box<Scope>),
}

/// One generated struct: its fields and the forward steps over them.
#[derive(Debug)]
pub struct Scope {
    /// The struct's name (the model's for the root).
    pub ty: Ident,
    pub fields: Vec<PlannedLayer>,
    pub steps: Vec<Step>,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    /// Dotted path of this struct in the model (`layer1.0.`, empty for the
    /// root): the prefix of the penalty terms it pushes.
    pub prefix: String,
}

/// One step of a forward pass.
#[derive(Debug)]
pub enum Step {
    /// `x = self.fields[i](x)`.
    Field(usize),
    /// `x = body(x) + shortcut(x)`; `shortcut` is the projection's field.
    Residual {
        body: Vec<Step>,
        shortcut: Option<usize>,
        output: Vec<u64>,
    },
    /// Every branch applied to `x`, merged.
    Parallel {
        branches: Vec<Branch>,
        merge: Merge,
        output: Vec<u64>,
    },
    /// A VAE's code over the heads' fields: `mu` in inference, `mu +
    /// exp(logvar / 2) * eps` and the KL term in training
    /// ([`crate::layers::gaussian`]).
    Gaussian {
        mu: Vec<Step>,
        logvar: Vec<Step>,
        kl_weight: f64,
    },
}

/// One branch of a [`Step::Parallel`]: its steps over the scope's fields
/// (one field step for a named branch, none for the identity `_ { }`).
#[derive(Debug)]
pub struct Branch {
    pub steps: Vec<Step>,
    pub output: Vec<u64>,
}

/// A model with every layer's shape inferred.
#[derive(Debug)]
pub struct ModelPlan<'a> {
    pub def: &'a ModelDef,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    pub root: Scope,
    /// For a token input: the vocabulary of the `Embedding` that reads it
    /// (the generated forward checks every id against it).
    pub vocab: Option<u64>,
}

/// Infers every model of a `model!` call; one result per model (block
/// templates are expanded where they are used).
pub fn infer_file(file: &File) -> Vec<syn::Result<ModelPlan<'_>>> {
    let templates = match Templates::new(file.items.iter().filter_map(|i| match i {
        Item::Block(b) => Some(b),
        Item::Model(_) => None,
    })) {
        Ok(t) => t,
        Err(e) => return vec![Err(e)],
    };
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Model(m) => Some(infer_model_with(m, &templates)),
            Item::Block(_) => None,
        })
        .collect()
}

/// The dims of a written shape: sizes of at least 1, [`DYN`] for a run-time
/// one (`_` or a name), and the [`TOKENS`] marker last for `tokens[..]`.
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
            DimLit::Fixed {
                value: TOKENS,
                span,
            } => Err(syn::Error::new(
                *span,
                format!("{what}: the dimension is too large"),
            )),
            DimLit::Fixed { value, .. } => Ok(*value),
            DimLit::Dynamic { .. } => Ok(DYN),
        })
        .chain(shape.tokens.then_some(Ok(TOKENS)))
        .collect()
}

/// The error for a token-id or run-time-length input reaching a node that
/// does not take it (`None` when the input fits).
fn input_kind_error(node: &Node, input: &[u64], label: &str) -> Option<syn::Error> {
    let kind = match node {
        Node::Call(c) => lookup(&c.kind.to_string()),
        _ => None,
    };
    let shown = fmt_shape(input);
    let tokens = is_tokens(input);
    let msg = match kind {
        Some(k) if k.takes_tokens() && !tokens => format!(
            "{label} takes integer token ids but gets float features {shown}; declare the input as `input: tokens[..]` and put it first"
        ),
        Some(k) if k.takes_tokens() => return None,
        _ if tokens => format!(
            "{label} takes float features but gets token ids {shown}; embed them first with `Embedding(vocab, dim)`"
        ),
        Some(k) if k.any_length() || !has_dyn(input) => return None,
        None if !has_dyn(input) || matches!(node, Node::Group(_)) => return None,
        _ => format!(
            "{label} needs every size at compile time but gets {shown} (`_` is a run-time length); only Dense, activations, Dropout, recurrent layers and Embedding take one"
        ),
    };
    Some(syn::Error::new(node.span(), msg))
}

/// Infers one model.
pub fn infer_model_with<'a>(
    def: &'a ModelDef,
    templates: &Templates<'_>,
) -> syn::Result<ModelPlan<'a>> {
    let input = fixed_dims(&def.input, "input shape")?;
    if def.body.stmts.is_empty() {
        return Err(syn::Error::new(
            def.body.span,
            format!("model `{}` has no layers", def.name),
        ));
    }
    let body = subst_body(&def.body, &Env::new())?;
    let mut planner = Planner {
        templates,
        stack: Vec::new(),
    };
    let mut root = ScopeBuilder::new(
        def.name.clone(),
        String::new(),
        &format!("model `{}`", def.name),
    );
    let (steps, output) = planner.seq(&mut root, &body.stmts, input.clone())?;
    // Only a root `Embedding` takes tokens, so the first field reads them:
    // its parameters are `vocab * dim`, its output `[T, dim]`.
    let vocab = match root.fields.first() {
        Some(PlannedLayer {
            what: What::Layer(i),
            output,
            ..
        }) if is_tokens(&input) => output.last().filter(|&&d| d > 0).map(|d| i.params / d),
        _ => None,
    };
    Ok(ModelPlan {
        def,
        input: input.clone(),
        output: output.clone(),
        root: root.finish(steps, input, output),
        vocab,
    })
}

/// The fields of one struct while it is being planned.
struct ScopeBuilder {
    ty: Ident,
    /// Dotted path of this struct in the model (`layer1.0.`), for messages.
    prefix: String,
    /// What to call the struct in messages (`model `Net``, `block `layer1.0``).
    owner: String,
    fields: Vec<PlannedLayer>,
    taken: HashSet<String>,
    counters: HashMap<String, usize>,
}

impl ScopeBuilder {
    fn new(ty: Ident, prefix: String, owner: &str) -> Self {
        ScopeBuilder {
            ty,
            prefix,
            owner: owner.to_string(),
            fields: Vec::new(),
            taken: HashSet::new(),
            counters: HashMap::new(),
        }
    }

    /// The struct of the field `path` of this one.
    fn child(&self, path: &str, span: Span) -> ScopeBuilder {
        let base = self.ty.to_string();
        let base = base.trim_start_matches("__");
        let ty = format_ident!("__{}_{}", base, path, span = span);
        let prefix = format!("{}{path}.", self.prefix);
        let owner = format!("`{}`", prefix.trim_end_matches('.'));
        ScopeBuilder::new(ty, prefix, &owner)
    }

    /// Reserves a written name; a second use is an error on it.
    fn reserve(&mut self, name: &Ident) -> syn::Result<()> {
        let word = name.to_string();
        if word.starts_with("__") {
            return Err(syn::Error::new(
                name.span(),
                "layer names starting with `__` are reserved",
            ));
        }
        if !self.taken.insert(word) {
            return Err(syn::Error::new(
                name.span(),
                format!("duplicate layer name `{}` in {}", path_of(name), self.owner),
            ));
        }
        Ok(())
    }

    /// A fresh `<prefix>_<n>` name.
    fn generate(&mut self, prefix: &str, span: Span) -> Ident {
        let c = self.counters.entry(prefix.to_string()).or_insert(0);
        loop {
            *c += 1;
            let candidate = format!("{prefix}_{c}");
            if self.taken.insert(candidate.clone()) {
                return Ident::new(&candidate, span);
            }
        }
    }

    fn push(&mut self, layer: PlannedLayer) -> usize {
        self.fields.push(layer);
        self.fields.len() - 1
    }

    fn finish(self, steps: Vec<Step>, input: Vec<u64>, output: Vec<u64>) -> Scope {
        Scope {
            ty: self.ty,
            fields: self.fields,
            steps,
            input,
            output,
            prefix: self.prefix,
        }
    }
}

/// The name a statement's field gets: `(rust ident, path)`.
type FieldName = (Ident, String);

struct Planner<'t, 'a> {
    templates: &'t Templates<'a>,
    /// Block templates being expanded, outermost first (recursion check).
    stack: Vec<String>,
}

/// Reserves the written names of `stmts` in `sb`, looking through
/// transparent (unnamed) `residual` and `parallel` nodes.
fn reserve_names(sb: &mut ScopeBuilder, stmts: &[Stmt]) -> syn::Result<()> {
    for s in stmts {
        match (&s.name, &s.node) {
            (Some(n), _) => sb.reserve(n)?,
            (None, Node::Residual { body, .. }) => reserve_names(sb, &body.stmts)?,
            (None, Node::Parallel { branches, .. }) => reserve_branches(sb, branches)?,
            _ => {}
        }
    }
    Ok(())
}

/// Reserves the branch names of a `parallel` in `sb`; a transparent branch
/// `_` reserves the names of its layers instead.
fn reserve_branches(sb: &mut ScopeBuilder, branches: &[(Ident, Body)]) -> syn::Result<()> {
    for (n, body) in branches {
        if n == "_" {
            reserve_names(sb, &body.stmts)?;
        } else {
            sb.reserve(n)?;
        }
    }
    Ok(())
}

impl Planner<'_, '_> {
    /// A sequence of statements as the fields of `sb`.
    fn seq(
        &mut self,
        sb: &mut ScopeBuilder,
        stmts: &[Stmt],
        input: Vec<u64>,
    ) -> syn::Result<(Vec<Step>, Vec<u64>)> {
        reserve_names(sb, stmts)?;
        self.list(sb, stmts, input)
    }

    /// [`Self::seq`] without reserving names (already reserved by the caller).
    fn list(
        &mut self,
        sb: &mut ScopeBuilder,
        stmts: &[Stmt],
        input: Vec<u64>,
    ) -> syn::Result<(Vec<Step>, Vec<u64>)> {
        let mut shape = input;
        let mut steps = Vec::new();
        for stmt in stmts {
            let name = stmt.name.as_ref().map(|n| (n.clone(), path_of(n)));
            let (s, out) = self.stmt(sb, stmt, shape, name)?;
            steps.extend(s);
            shape = out;
        }
        Ok((steps, shape))
    }

    /// One statement; `name` is its field's name when it has one (written,
    /// or the index inside a group), `None` for a generated one or a
    /// transparent composite.
    fn stmt(
        &mut self,
        sb: &mut ScopeBuilder,
        stmt: &Stmt,
        input: Vec<u64>,
        name: Option<FieldName>,
    ) -> syn::Result<(Vec<Step>, Vec<u64>)> {
        let (steps, output, explain) =
            self.node(sb, &stmt.node, input, name, stmt.assert.as_ref())?;
        if let Some(assert) = &stmt.assert {
            let what = match &stmt.name {
                Some(n) => format!("{}{}", sb.prefix, path_of(n)),
                None => format!("{}{}", sb.prefix, node_text(&stmt.node)),
            };
            let want = fixed_dims(assert, &what)?;
            if want != output {
                let mut msg = format!(
                    "{what} gives {} but `-> {}` was asserted",
                    fmt_shape(&output),
                    fmt_shape(&want)
                );
                if let Some(ex) = explain {
                    msg.push_str(&format!(" ({ex})"));
                }
                return Err(syn::Error::new(assert.span, msg));
            }
        }
        Ok((steps, output))
    }

    /// `assert` is the statement's `-> [..]`: a nested model's output.
    fn node(
        &mut self,
        sb: &mut ScopeBuilder,
        node: &Node,
        input: Vec<u64>,
        name: Option<FieldName>,
        assert: Option<&ShapeLit>,
    ) -> syn::Result<(Vec<Step>, Vec<u64>, Option<String>)> {
        let what = match (node, &name) {
            (Node::Call(c), Some((_, p))) => format!("{}{p}: {}", sb.prefix, c.kind),
            (Node::Call(c), None) => format!("{}{}", sb.prefix, c.kind),
            (other, _) => format!("{}{}", sb.prefix, node_text(other)),
        };
        if let Some(e) = input_kind_error(node, &input, &what) {
            return Err(e);
        }
        match node {
            Node::Call(call) => {
                let kind_word = call.kind.to_string();
                let known = lookup(&kind_word);
                let template = if known.is_none() {
                    self.templates.get(&kind_word)
                } else {
                    None
                };
                let (field, path) = match name {
                    Some(n) => n,
                    None => {
                        let prefix = match known {
                            Some(k) => k.snake().to_string(),
                            None => snake_case(&kind_word),
                        };
                        let f = sb.generate(&prefix, call.kind.span());
                        let p = f.to_string();
                        (f, p)
                    }
                };
                let label = format!("{}{path}: {kind_word}", sb.prefix);
                let text = kind_text(call);
                if let Some(def) = template {
                    if self.stack.contains(&kind_word) {
                        let chain = format!("{} -> {kind_word}", self.stack.join(" -> "));
                        return Err(syn::Error::new(
                            call.kind.span(),
                            format!("block `{kind_word}` uses itself ({chain}); blocks cannot be recursive"),
                        ));
                    }
                    let env = bind_args(def, call, &Env::new())?;
                    let body = subst_body(&def.body, &env)?;
                    if body.stmts.is_empty() {
                        return Err(syn::Error::new(
                            def.body.span,
                            format!("block `{kind_word}` has no layers"),
                        ));
                    }
                    self.stack.push(kind_word);
                    let mut child = sb.child(&path, call.kind.span());
                    let res = self.seq(&mut child, &body.stmts, input.clone());
                    self.stack.pop();
                    let (steps, output) = res?;
                    let scope = child.finish(steps, input.clone(), output.clone());
                    let i = sb.push(PlannedLayer {
                        field,
                        path,
                        kind_text: text,
                        input,
                        output: output.clone(),
                        what: What::Scope(Box::new(scope)),
                    });
                    return Ok((vec![Step::Field(i)], output, None));
                }
                let Some(kind) = known else {
                    if let Some(t) = self.templates.closest(&kind_word) {
                        return Err(syn::Error::new(call.kind.span(), format!("unknown layer or block `{kind_word}`; did you mean the block `{t}`?")));
                    }
                    // A model type used as a layer: no arguments, and `-> [..]`.
                    let assert = match assert {
                        Some(a) if call.args.is_none() && may_be_model(&call.kind) => a,
                        a => return Err(unknown_layer(call, &path, a.is_some())),
                    };
                    let output = fixed_dims(assert, &label)?;
                    if has_dyn(&output) {
                        return Err(syn::Error::new(
                            assert.span,
                            format!("{label}: write a nested model's output with fixed sizes"),
                        ));
                    }
                    let i = sb.push(PlannedLayer {
                        field,
                        path,
                        kind_text: text,
                        input,
                        output: output.clone(),
                        what: What::Nested {
                            ty: call.kind.clone(),
                        },
                    });
                    return Ok((vec![Step::Field(i)], output, None));
                };
                let bound = bind(call, kind, &label, &input)?;
                let node = kind.bind(&bound)?;
                let cx = Cx {
                    label: &label,
                    span: call.kind.span(),
                };
                let inferred = node.infer(&input, &cx)?;
                let output = inferred.output.clone();
                let explain = inferred.explain.clone();
                let i = sb.push(PlannedLayer {
                    field,
                    path,
                    kind_text: text,
                    input,
                    output: output.clone(),
                    what: What::Layer(inferred),
                });
                Ok((vec![Step::Field(i)], output, explain))
            }
            Node::Group(body) => {
                if body.stmts.is_empty() {
                    return Err(syn::Error::new(
                        body.span,
                        "an empty group `{ }`: write at least one layer",
                    ));
                }
                let (field, path) = name.unwrap_or_else(|| {
                    let f = sb.generate("seq", body.span);
                    let p = f.to_string();
                    (f, p)
                });
                let mut child = sb.child(&path, body.span);
                let mut shape = input.clone();
                let mut steps = Vec::new();
                for (i, s) in body.stmts.iter().enumerate() {
                    // A written name is kept (like an `OrderedDict` in a
                    // torch `Sequential`); the others are numbered by position.
                    let n = match &s.name {
                        Some(w) => {
                            child.reserve(w)?;
                            (w.clone(), path_of(w))
                        }
                        None => {
                            let f = format_ident!("_{}", i, span = s.node.span());
                            if !child.taken.insert(f.to_string()) {
                                return Err(syn::Error::new(
                                    s.node.span(),
                                    format!("this layer is number {i} of its group, but a layer of the group is already named `{i}:`"),
                                ));
                            }
                            (f, i.to_string())
                        }
                    };
                    let (st, out) = self.stmt(&mut child, s, shape, Some(n))?;
                    steps.extend(st);
                    shape = out;
                }
                let scope = child.finish(steps, input.clone(), shape.clone());
                let i = sb.push(PlannedLayer {
                    field,
                    path,
                    kind_text: "{ .. }".into(),
                    input,
                    output: shape.clone(),
                    what: What::Scope(Box::new(scope)),
                });
                Ok((vec![Step::Field(i)], shape, None))
            }
            Node::Repeat { kw, count, body } => {
                let n = repeat_count(count)?;
                if body.stmts.is_empty() {
                    return Err(syn::Error::new(
                        body.span,
                        "`repeat` needs at least one layer",
                    ));
                }
                let (field, path) = name.unwrap_or_else(|| {
                    let f = sb.generate("repeat", kw.span());
                    let p = f.to_string();
                    (f, p)
                });
                let mut child = sb.child(&path, kw.span());
                let mut steps = Vec::new();
                let mut shape = input.clone();
                for i in 0..n {
                    let fname = (format_ident!("_{}", i, span = kw.span()), i.to_string());
                    child.taken.insert(fname.0.to_string());
                    let before = shape.clone();
                    let (st, out) = if let [one] = body.stmts.as_slice() {
                        self.stmt(&mut child, one, shape, Some(fname))?
                    } else {
                        let group = Node::Group(body.clone());
                        let (st, out, _) =
                            self.node(&mut child, &group, shape, Some(fname), None)?;
                        (st, out)
                    };
                    if n > 1 && out != before {
                        let first = &body.stmts[0];
                        return Err(syn::Error::new(
                            first.node.span(),
                            format!(
                                "repeat {n}: `{}` changes the shape {} -> {}, so its copies do not chain; write the copies as a list `{{ a, b }}`",
                                node_text(&first.node),
                                fmt_shape(&before),
                                fmt_shape(&out)
                            ),
                        ));
                    }
                    steps.extend(st);
                    shape = out;
                }
                let scope = child.finish(steps, input.clone(), shape.clone());
                let i = sb.push(PlannedLayer {
                    field,
                    path,
                    kind_text: format!("repeat {n}"),
                    input,
                    output: shape.clone(),
                    what: What::Scope(Box::new(scope)),
                });
                Ok((vec![Step::Field(i)], shape, None))
            }
            Node::Residual { kw, args, body } => {
                let Some((field, path)) = name else {
                    let (step, out) = self.residual(sb, kw, args, body, input)?;
                    return Ok((vec![step], out, None));
                };
                let mut child = sb.child(&path, kw.span());
                reserve_names(&mut child, &body.stmts)?;
                let (step, out) = self.residual(&mut child, kw, args, body, input.clone())?;
                let scope = child.finish(vec![step], input.clone(), out.clone());
                let i = sb.push(PlannedLayer {
                    field,
                    path,
                    kind_text: "residual".into(),
                    input,
                    output: out.clone(),
                    what: What::Scope(Box::new(scope)),
                });
                Ok((vec![Step::Field(i)], out, None))
            }
            Node::Gaussian { kw, args, branches } => {
                let (step, out) = self.gaussian(sb, kw, args, branches, input, name)?;
                Ok((vec![step], out, None))
            }
            Node::Parallel { kw, args, branches } => {
                let Some((field, path)) = name else {
                    let (step, out) = self.parallel(sb, kw, args, branches, input)?;
                    return Ok((vec![step], out, None));
                };
                let mut child = sb.child(&path, kw.span());
                reserve_branches(&mut child, branches)?;
                let (step, out) = self.parallel(&mut child, kw, args, branches, input.clone())?;
                let merge = match &step {
                    Step::Parallel { merge, .. } => merge.word(),
                    _ => "",
                };
                let scope = child.finish(vec![step], input.clone(), out.clone());
                let i = sb.push(PlannedLayer {
                    field,
                    path,
                    kind_text: format!("parallel({merge})"),
                    input,
                    output: out.clone(),
                    what: What::Scope(Box::new(scope)),
                });
                Ok((vec![Step::Field(i)], out, None))
            }
        }
    }

    /// `residual(shortcut = ..) { body }` with the body's fields in `sb`
    /// (names already reserved).
    fn residual(
        &mut self,
        sb: &mut ScopeBuilder,
        kw: &Ident,
        args: &Args,
        body: &Body,
        input: Vec<u64>,
    ) -> syn::Result<(Step, Vec<u64>)> {
        let shortcut = compose::residual_shortcut(kw, args)?;
        if body.stmts.is_empty() {
            return Err(syn::Error::new(
                body.span,
                "`residual` needs at least one layer",
            ));
        }
        let (steps, output) = self.list(sb, &body.stmts, input.clone())?;
        let projection = compose::shortcut_for(kw, &shortcut, &input, &output)?;
        let shortcut = match projection {
            None => None,
            Some((c, stride)) => {
                let name = Ident::new("downsample", kw.span());
                if sb.taken.contains("downsample") {
                    return Err(syn::Error::new(
                        kw.span(),
                        format!("this residual's projection shortcut is the field `downsample`, but {} already has a layer of that name", sb.owner),
                    ));
                }
                sb.taken.insert("downsample".into());
                let c = proc_macro2::Literal::u64_unsuffixed(c);
                let s = proc_macro2::Literal::u64_unsuffixed(stride);
                let tokens = quote_spanned!(kw.span()=> { Conv2d(#c, kernel = 1, stride = #s, bias = false), BatchNorm2d });
                let proj = parse_body_tokens(tokens)?;
                let (steps, out, _) = self.node(
                    sb,
                    &Node::Group(proj),
                    input.clone(),
                    Some((name, "downsample".into())),
                    None,
                )?;
                if out != output {
                    return Err(syn::Error::new(
                        kw.span(),
                        format!(
                            "the projection gives {} but the body {}",
                            fmt_shape(&out),
                            fmt_shape(&output)
                        ),
                    ));
                }
                // A group is one field step: the projection's field.
                let Some(&Step::Field(i)) = steps.first() else {
                    return Err(syn::Error::new(
                        kw.span(),
                        "internal: projection not planned",
                    ));
                };
                sb.fields[i].kind_text = format!("projection(stride = {stride})");
                Some(i)
            }
        };
        Ok((
            Step::Residual {
                body: steps,
                shortcut,
                output: output.clone(),
            },
            output,
        ))
    }

    /// `parallel(merge) { name { .. } .. }` with one field per branch in `sb`
    /// (names already reserved).
    fn parallel(
        &mut self,
        sb: &mut ScopeBuilder,
        kw: &Ident,
        args: &Args,
        branches: &[(Ident, Body)],
        input: Vec<u64>,
    ) -> syn::Result<(Step, Vec<u64>)> {
        let merge = compose_par::parallel_merge(kw, args)?;
        if branches.len() < 2 {
            return Err(syn::Error::new(
                kw.span(),
                "`parallel` needs at least two branches `name { .. }`",
            ));
        }
        let mut planned = Vec::new();
        let mut outs = Vec::new();
        for (n, body) in branches {
            let path = n.to_string();
            let (steps, out) = if n == "_" {
                // Transparent: the layers are fields of `sb` (names reserved).
                self.list(sb, &body.stmts, input.clone())?
            } else if let Some(one) = self.whole_branch(body) {
                // One unnamed block use or group: the branch is that node.
                let (steps, out, _) =
                    self.node(sb, &one.node, input.clone(), Some((n.clone(), path)), None)?;
                (steps, out)
            } else {
                let mut child = sb.child(&path, n.span());
                let (steps, out) = self.seq(&mut child, &body.stmts, input.clone())?;
                let scope = child.finish(steps, input.clone(), out.clone());
                let i = sb.push(PlannedLayer {
                    field: n.clone(),
                    path,
                    kind_text: "branch".into(),
                    input: input.clone(),
                    output: out.clone(),
                    what: What::Scope(Box::new(scope)),
                });
                (vec![Step::Field(i)], out)
            };
            outs.push((n.clone(), out.clone()));
            planned.push(Branch { steps, output: out });
        }
        let output = compose_par::merged_shape(merge, &outs)?;
        Ok((
            Step::Parallel {
                branches: planned,
                merge,
                output: output.clone(),
            },
            output,
        ))
    }

    /// `gaussian(kl_weight = ..) { mu { .. } logvar { .. } }`: a field of
    /// its own (named, or `gaussian_<n>`) with the heads `mu` and `logvar`;
    /// a head of one unnamed statement is that layer (`z.mu.weight`).
    fn gaussian(
        &mut self,
        sb: &mut ScopeBuilder,
        kw: &Ident,
        args: &Args,
        branches: &[(Ident, Body)],
        input: Vec<u64>,
        name: Option<FieldName>,
    ) -> syn::Result<(Step, Vec<u64>)> {
        let kl_weight = gaussian::kl_weight(kw, args)?;
        let heads = gaussian::heads(kw, branches)?;
        let (field, path) = name.unwrap_or_else(|| {
            let f = sb.generate("gaussian", kw.span());
            let p = f.to_string();
            (f, p)
        });
        let mut child = sb.child(&path, kw.span());
        let mut planned = Vec::new();
        for (n, body) in heads {
            child.taken.insert(n.to_string());
            let named = Some((n.clone(), n.to_string()));
            let (steps, out) = match body.stmts.as_slice() {
                [one] if one.name.is_none() => self.stmt(&mut child, one, input.clone(), named)?,
                _ => {
                    let group = Node::Group(body.clone());
                    let (st, out, _) = self.node(&mut child, &group, input.clone(), named, None)?;
                    (st, out)
                }
            };
            planned.push((steps, out));
        }
        let (lv_steps, lv_out) = planned.pop().unwrap_or_default();
        let (mu_steps, mu_out) = planned.pop().unwrap_or_default();
        gaussian::check_heads(&heads[1].0, &mu_out, &lv_out)?;
        let step = Step::Gaussian {
            mu: mu_steps,
            logvar: lv_steps,
            kl_weight,
        };
        let scope = child.finish(vec![step], input.clone(), mu_out.clone());
        let i = sb.push(PlannedLayer {
            field,
            path,
            kind_text: format!("gaussian(kl_weight = {kl_weight})"),
            input,
            output: mu_out.clone(),
            what: What::Scope(Box::new(scope)),
        });
        Ok((Step::Field(i), mu_out))
    }

    /// The one statement of a branch body when it is an unnamed block use
    /// or group without `-> [..]`: the branch is then that node itself.
    fn whole_branch<'b>(&self, body: &'b Body) -> Option<&'b Stmt> {
        let [one] = body.stmts.as_slice() else {
            return None;
        };
        if one.name.is_some() || one.assert.is_some() {
            return None;
        }
        match &one.node {
            Node::Group(_) => Some(one),
            Node::Call(c) => {
                let word = c.kind.to_string();
                (lookup(&word).is_none() && self.templates.get(&word).is_some()).then_some(one)
            }
            _ => None,
        }
    }
}

/// The parameter path of a written field name: `_3` (written `3:`, as a
/// PyTorch `Sequential` numbers its children) is `3`, like a group's
/// numbered children; any other name is itself.
pub fn path_of(name: &Ident) -> String {
    let word = name.to_string();
    match word.strip_prefix('_') {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d.to_string(),
        _ => word,
    }
}

/// `repeat N`: N a positive integer.
fn repeat_count(count: &Value) -> syn::Result<u64> {
    match count {
        Value::Int { value, .. } if (1..=1000).contains(value) => Ok(*value as u64),
        Value::Int { span, .. } => Err(syn::Error::new(
            *span,
            "`repeat` needs a count from 1 to 1000",
        )),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`repeat` needs a count, found {} `{}`",
                other.describe(),
                other.text()
            ),
        )),
    }
}

/// A node as written, short (for messages).
fn node_text(node: &Node) -> String {
    match node {
        Node::Call(c) => kind_text(c),
        Node::Group(_) => "{ .. }".into(),
        Node::Repeat { count, .. } => format!("repeat {}", count.text()),
        Node::Residual { .. } => "residual".into(),
        Node::Parallel { .. } => "parallel".into(),
        Node::Gaussian { .. } => "gaussian".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_file;

    /// Plans the first model of `src`; returns `(path, output)` of every
    /// field, depth first, dotted like parameter paths.
    fn fields(src: &str) -> syn::Result<Vec<(String, Vec<u64>)>> {
        let file = parse_file(syn::parse_str(src).expect("lexes"))?;
        let plan = infer_file(&file).into_iter().next().expect("a model")?;
        fn walk(s: &Scope, prefix: &str, out: &mut Vec<(String, Vec<u64>)>) {
            for f in &s.fields {
                let p = format!("{prefix}{}", f.path);
                out.push((p.clone(), f.output.clone()));
                if let What::Scope(inner) = &f.what {
                    walk(inner, &format!("{p}."), out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&plan.root, "", &mut out);
        Ok(out)
    }

    fn paths(src: &str) -> Vec<String> {
        fields(src).unwrap().into_iter().map(|(p, _)| p).collect()
    }

    fn msg(src: &str) -> String {
        fields(src).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn groups_and_repeat_number_children_and_blocks_nest() {
        let p = paths(
            "block B(c) { conv: Conv2d(c, kernel = 1), ReLU }
             pub N(input: [2, 4, 4]) {
                 g: { B(3), act: ReLU },
                 r: repeat 2 { Conv2d(3, kernel = 1), ReLU },
                 B(3),
             }",
        );
        assert_eq!(
            p,
            [
                "g",
                "g.0",
                "g.0.conv",
                "g.0.relu_1",
                "g.act",
                "r",
                "r.0",
                "r.0.0",
                "r.0.1",
                "r.1",
                "r.1.0",
                "r.1.1",
                "b_1",
                "b_1.conv",
                "b_1.relu_1",
            ]
        );
    }

    #[test]
    fn numbered_names_are_sequential_keys() {
        // As a PyTorch `Sequential`: `0.weight`, `2.weight`, and inside groups.
        let p = paths(
            "pub N(input: [2, 4, 4]) {
                 0: Conv2d(3, kernel = 1), 1: ReLU, 2: Conv2d(3, kernel = 1),
                 g: { 4: ReLU, Conv2d(3, kernel = 1) },
             }",
        );
        assert_eq!(p, ["0", "1", "2", "g", "g.4", "g.1"]);
        assert_eq!(
            msg("pub N(input: [2]) { 0: Dense(2), 0: ReLU }"),
            "duplicate layer name `0` in model `N`"
        );
        assert!(
            msg("pub N(input: [2]) { g: { 1: ReLU, ReLU } }").contains("number 1 of its group"),
            "{}",
            msg("pub N(input: [2]) { g: { 1: ReLU, ReLU } }")
        );
    }

    #[test]
    fn unnamed_residual_and_parallel_are_transparent() {
        let p = paths(
            "pub N(input: [2, 8, 8]) {
                 residual { conv1: Conv2d(4, kernel = 3, stride = 2, padding = 1) },
                 parallel(concat) { a { ReLU } b { Conv2d(2, kernel = 1) } }
                 res: residual(shortcut = identity) { ReLU },
             }",
        );
        assert_eq!(
            p,
            [
                "conv1",
                "downsample",
                "downsample.0",
                "downsample.1",
                "a",
                "a.relu_1",
                "b",
                "b.conv2d_1",
                "res",
                "res.relu_1",
            ]
        );
        let f = fields("pub N(input: [2, 8, 8]) { parallel(concat) { a { ReLU } b { Conv2d(2, kernel = 1) } } }").unwrap();
        assert_eq!(f[1].1, vec![2, 8, 8]);
    }

    #[test]
    fn underscore_branches_and_whole_block_branches_name_like_torchvision() {
        // Squeeze-and-excitation as torchvision's `SqueezeExcitation`
        // (`fc1`, `fc2` fields of the block), DenseNet's concatenation of
        // the input with a layer, Inception's `branch2.0.conv`.
        let f = fields(
            "block Se(c, s) {
                 parallel(mul) { _ { } _ { AdaptiveAvgPool2d(1), fc1: Conv2d(s, kernel = 1), ReLU, fc2: Conv2d(c, kernel = 1), Sigmoid } }
             }
             block Basic(c) { conv: Conv2d(c, kernel = 1), bn: BatchNorm2d }
             pub N(input: [4, 6, 6]) {
                 se: Se(4, 2),
                 parallel(concat) { _ { } grow { Basic(3) } },
                 parallel(concat) { b1 { Basic(2) } b2 { { Basic(1), Basic(2) } } },
             }",
        )
        .unwrap();
        let p: Vec<&str> = f.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            p,
            [
                "se",
                "se.adaptive_avg_pool2d_1",
                "se.fc1",
                "se.relu_1",
                "se.fc2",
                "se.sigmoid_1",
                "grow",
                "grow.conv",
                "grow.bn",
                "b1",
                "b1.conv",
                "b1.bn",
                "b2",
                "b2.0",
                "b2.0.conv",
                "b2.0.bn",
                "b2.1",
                "b2.1.conv",
                "b2.1.bn",
            ]
        );
        assert_eq!(f[0].1, vec![4, 6, 6]);
        assert_eq!(f[6].1, vec![3, 6, 6]);
        // Names in `_` branches share the enclosing struct's namespace.
        let m = msg("pub N(input: [4]) { a: ReLU, parallel(add) { _ { } _ { a: ReLU } } }");
        assert!(m.contains("duplicate layer name `a`"), "{m}");
    }

    #[test]
    fn template_arguments_flow_into_shapes_and_asserts() {
        let f = fields(
            "block Wide(w, s) { Conv2d(w * 4, kernel = 3, stride = s, padding = 1) }
             pub N(input: [3, 16, 16]) { x: Wide(s = 2, w = 8) -> [32, 8, 8] }",
        )
        .unwrap();
        assert_eq!(f[0], ("x".to_string(), vec![32, 8, 8]));
        let m = msg("block Wide(w) { Conv2d(w, kernel = 1) }
             pub N(input: [3, 16, 16]) { x: Wide(8) -> [16, 16, 16] }");
        assert!(
            m.contains("x gives [8, 16, 16] but `-> [16, 16, 16]` was asserted"),
            "{m}"
        );
    }

    #[test]
    fn composite_errors() {
        let m = msg("pub N(input: [4]) { residual(4) { ReLU } }");
        assert!(m.contains("write the shortcut by name"), "{m}");
        let m = msg("pub N(input: [4]) { residual(shortcut = maybe) { ReLU } }");
        assert!(m.contains("found `maybe`"), "{m}");
        let m = msg("pub N(input: [4]) { parallel { a { ReLU } b { ReLU } } }");
        assert!(m.contains("needs a merge"), "{m}");
        let m = msg("pub N(input: [4]) { parallel(add) { a { ReLU } } }");
        assert!(m.contains("at least two branches"), "{m}");
        let m = msg("pub N(input: [4]) { repeat 0 { ReLU } }");
        assert!(m.contains("count from 1"), "{m}");
        let m =
            msg("pub N(input: [2, 4, 4]) { downsample: ReLU, residual { Conv2d(3, kernel = 1) } }");
        assert!(m.contains("already has a layer of that name"), "{m}");
        let m = msg("pub N(input: [4]) { a: ReLU, parallel(add) { a { ReLU } b { ReLU } } }");
        assert!(m.contains("duplicate layer name `a`"), "{m}");
        let m = msg("block A(c) { Dense(c) } block A(d) { Dense(d) } pub N(input: [4]) { A(1) }");
        assert!(m.contains("declared twice"), "{m}");
    }

    #[test]
    fn tokens_and_run_time_lengths_reach_only_the_layers_that_take_them() {
        let f = fields(
            "pub N(input: tokens[_]) { e: Embedding(10, 4), l: Lstm(3, return_sequences = true), d: Dense(2), ReLU }",
        )
        .unwrap();
        assert_eq!(f[0].1, vec![DYN, 4]);
        assert_eq!(f[3].1, vec![DYN, 2]);
        let m = msg("pub N(input: tokens[5]) { g: { Embedding(10, 4) } }");
        assert!(
            m.contains("takes float features but gets token ids tokens[5]"),
            "{m}"
        );
        let m = msg("pub N(input: [5]) { Embedding(10, 4) }");
        assert!(
            m.contains("takes integer token ids but gets float features [5]"),
            "{m}"
        );
        let m = msg("pub N(input: [seq, 4]) { residual { Dense(4) } }");
        assert!(
            m.contains("needs every size at compile time but gets [_, 4]"),
            "{m}"
        );
        let m = msg("pub N(input: [seq, 4]) { e: Enc -> [8] }");
        assert!(m.contains("e: Enc needs every size"), "{m}");
        let m = msg("pub N(input: [3, 4]) { e: Enc -> [_, 8] }");
        assert!(m.contains("with fixed sizes"), "{m}");
        // A run-time length through a group and an assertion.
        let f = fields("pub N(input: [seq, 4]) { g: { Dense(3), Tanh } -> [_, 3] }").unwrap();
        assert_eq!(f[0].1, vec![DYN, 3]);
    }
}
