//! The model clauses beside the layers, for autoencoders and VAEs: their
//! syntax and their resolution against a planned model.
//!
//! ```text
//! pub Ae(input: [784], reconstructs, outputs(code = enc_act, recon)) {
//!     enc: Dense(32), enc_act: Sigmoid, recon: Dense(784), Sigmoid,
//! } regularize {
//!     enc_act: sparsity_kl(rho = 0.05, weight = 3.0),
//!     enc: contractive(weight = 1e-4),
//! }
//! ```
//!
//! * `reconstructs`: the output shape must equal the input shape.
//! * `outputs(name [= path], ..)`: named outputs (a `MultiOutput` impl); a
//!   path is a top-level layer (`enc_act`) or a `gaussian` code's head
//!   (`z.mu`, `z.logvar`).
//! * `regularize { layer: kind(args), .. }`: penalties on top-level layers'
//!   outputs, pushed in the training forward as `<layer>.<kind>`.
//!
//! Every name is checked (an unknown one is an error on it), every number
//! range-checked, each error spanned on the offending token.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{braced, parenthesized, Ident, Token};

use crate::layers::common::{dims_of, fmt_shape, is_tokens};
use crate::layers::names::closest;
use crate::parse::{parse_args, Args, Value};
use crate::plan::{ModelPlan, Scope, Step, What};

/// The clauses of one model as written.
#[derive(Debug, Clone, Default)]
pub struct Clauses {
    /// The `reconstructs` keyword.
    pub reconstructs: Option<Ident>,
    /// `outputs(..)`: the keyword and the entries.
    pub outputs: Option<(Ident, Vec<OutputDecl>)>,
    /// The entries of `regularize { .. }`.
    pub regularize: Vec<RegDecl>,
}

/// `name` or `name = a.b`.
#[derive(Debug, Clone)]
pub struct OutputDecl {
    pub name: Ident,
    /// The dotted path (`[name]` when written alone).
    pub path: Vec<Ident>,
}

/// `layer: kind(args)`.
#[derive(Debug, Clone)]
pub struct RegDecl {
    pub target: Ident,
    pub kind: Ident,
    pub args: Option<Args>,
}

const HEADER: &str =
    "the header takes `input: [..]`, then `reconstructs` and `outputs(name = layer, ..)`";

/// One clause after the input shape in the header.
pub fn parse_header_clause(input: ParseStream, clauses: &mut Clauses) -> syn::Result<()> {
    let word: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a model clause: {HEADER}")))?;
    if word == "reconstructs" {
        if clauses.reconstructs.is_some() {
            return Err(syn::Error::new(
                word.span(),
                "`reconstructs` is written twice",
            ));
        }
        clauses.reconstructs = Some(word);
        return Ok(());
    }
    if word == "outputs" && input.peek(syn::token::Paren) {
        if clauses.outputs.is_some() {
            return Err(syn::Error::new(
                word.span(),
                "`outputs(..)` is written twice",
            ));
        }
        let content;
        parenthesized!(content in input);
        let mut list = Vec::new();
        while !content.is_empty() {
            let name: Ident = content.parse()?;
            let path = if content.peek(Token![=]) {
                content.parse::<Token![=]>()?;
                let mut path = vec![content.parse::<Ident>()?];
                while content.peek(Token![.]) {
                    content.parse::<Token![.]>()?;
                    path.push(content.parse()?);
                }
                path
            } else {
                vec![name.clone()]
            };
            list.push(OutputDecl { name, path });
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        if list.is_empty() {
            return Err(syn::Error::new(
                word.span(),
                "`outputs()` is empty: name at least one layer, e.g. `outputs(code = enc, recon)`",
            ));
        }
        clauses.outputs = Some((word, list));
        return Ok(());
    }
    Err(syn::Error::new(
        word.span(),
        format!("unknown model clause `{word}`: {HEADER}"),
    ))
}

/// `regularize { .. }` after a model's body, if present.
pub fn parse_trailing(input: ParseStream, clauses: &mut Clauses) -> syn::Result<()> {
    let is_reg = input
        .fork()
        .parse::<Ident>()
        .map(|i| i == "regularize")
        .unwrap_or(false);
    if !(is_reg && input.peek2(syn::token::Brace)) {
        return Ok(());
    }
    input.parse::<Ident>()?;
    let content;
    braced!(content in input);
    while !content.is_empty() {
        let target: Ident = content.parse()?;
        content.parse::<Token![:]>()?;
        let kind: Ident = content.parse()?;
        let args = if content.peek(syn::token::Paren) {
            Some(parse_args(&content)?)
        } else {
            None
        };
        clauses.regularize.push(RegDecl { target, kind, args });
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(())
}

/// Binds numeric arguments of `what` to `spec` (`(name, default)`, in
/// positional order): the values and where each was written.
pub fn number_args(
    what: &str,
    at: Span,
    args: Option<&Args>,
    spec: &[(&str, Option<f64>)],
) -> syn::Result<Vec<(f64, Span)>> {
    let mut out: Vec<Option<(f64, Span)>> = vec![None; spec.len()];
    let names: Vec<&str> = spec.iter().map(|s| s.0).collect();
    let takes = format!("{what} takes {}", names.join(", "));
    for (k, a) in args
        .map(|a| a.list.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let slot = match &a.name {
            Some(n) => names.iter().position(|s| n == s).ok_or_else(|| {
                let mut m = format!("unknown argument `{n}` for {what}");
                match closest(&n.to_string(), names.iter().copied()) {
                    Some(c) => m.push_str(&format!("; did you mean `{c}`?")),
                    None => m.push_str(&format!("; {takes}")),
                }
                syn::Error::new(n.span(), m)
            })?,
            None if k < spec.len() => k,
            None => {
                return Err(syn::Error::new(
                    a.span(),
                    format!("too many arguments: {takes}"),
                ))
            }
        };
        let value = match &a.value {
            Value::Int { value, .. } => *value as f64,
            Value::Float { value, .. } => *value,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "{what}: `{}` is a number, found {} `{}`",
                        names[slot],
                        other.describe(),
                        other.text()
                    ),
                ))
            }
        };
        if out[slot].is_some() {
            return Err(syn::Error::new(
                a.span(),
                format!("{what}: `{}` is given twice", names[slot]),
            ));
        }
        out[slot] = Some((value, a.value.span()));
    }
    out.into_iter()
        .zip(spec)
        .map(|(v, (name, default))| match (v, default) {
            (Some(v), _) => Ok(v),
            (None, Some(d)) => Ok((*d, at)),
            (None, None) => Err(syn::Error::new(
                at,
                format!("{what} needs `{name}`: {takes}"),
            )),
        })
        .collect()
}

/// A non-negative, finite weight.
pub fn check_weight(what: &str, name: &str, (w, span): (f64, Span)) -> syn::Result<f64> {
    if w.is_finite() && w >= 0.0 {
        Ok(w)
    } else {
        Err(syn::Error::new(
            span,
            format!("{what}: `{name}` must be at least 0, found {w}"),
        ))
    }
}

/// A penalty the root's training forward pushes after one of its layers.
#[derive(Debug)]
pub struct Penalty {
    /// `code.sparsity_kl`.
    pub name: String,
    pub weight: f64,
    pub kind: PenaltyKind,
}

/// What a [`Penalty`] computes on the layer's output `x`.
#[derive(Debug)]
pub enum PenaltyKind {
    ActivityL1,
    SparsityKl {
        rho: f64,
    },
    /// On a `Sigmoid` after the `Dense` field `dense`.
    Contractive {
        dense: Ident,
    },
}

/// A declared output: a top-level field's output or a Gaussian head.
#[derive(Debug)]
pub struct Output {
    pub name: Ident,
    /// Index of the top-level field.
    pub field: usize,
    pub head: Option<Head>,
    pub shape: Vec<u64>,
    /// The path as written (`z.mu`), for docs.
    pub path: String,
}

/// A head of a `gaussian` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Mu,
    LogVar,
}

/// The clauses checked against the plan.
#[derive(Debug, Default)]
pub struct Resolved {
    /// `(top-level field, penalty)`: pushed after that field's step.
    pub penalties: Vec<(usize, Penalty)>,
    /// Empty when the model declares no `outputs(..)`.
    pub outputs: Vec<Output>,
}

/// Whether a scope is a `gaussian` code's.
pub fn is_gaussian(s: &Scope) -> bool {
    matches!(s.steps.as_slice(), [Step::Gaussian { .. }])
}

/// The kind a catalogue field was written as (`Dense` for `Dense(64)`).
fn kind_word(text: &str) -> &str {
    text.split('(').next().unwrap_or(text).trim()
}

/// Checks the clauses of `plan`'s model.
pub fn resolve(plan: &ModelPlan<'_>) -> syn::Result<Resolved> {
    let def = plan.def;
    let c = &def.clauses;
    let root = &plan.root;
    let name = &def.name;
    if let Some(kw) = &c.reconstructs {
        if is_tokens(&plan.input) {
            return Err(syn::Error::new(
                kw.span(),
                format!("model `{name}` reads token ids, so it cannot reconstruct its input"),
            ));
        }
        if dims_of(&plan.output) != dims_of(&plan.input) {
            let span = def.body.stmts.last().map_or(kw.span(), |s| s.node.span());
            return Err(syn::Error::new(
                span,
                format!(
                    "model `{name}` declares `reconstructs`, but its output {} differs from its input {}",
                    fmt_shape(&plan.output),
                    fmt_shape(&plan.input)
                ),
            ));
        }
    }
    // The fields that are steps of their own at the top level, in order.
    let top: Vec<usize> = root
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Field(i) => Some(*i),
            _ => None,
        })
        .collect();
    let find = |id: &Ident, what: &str| -> syn::Result<usize> {
        let word = id.to_string();
        let Some(i) = root
            .fields
            .iter()
            .position(|f| f.path == word || f.field == *id)
        else {
            let names = root.fields.iter().map(|f| f.path.as_str());
            let hint = match closest(&word, names) {
                Some(n) => format!("; did you mean `{n}`?"),
                None => {
                    let all: Vec<&str> = root.fields.iter().map(|f| f.path.as_str()).collect();
                    format!("; its layers are {}", all.join(", "))
                }
            };
            return Err(syn::Error::new(
                id.span(),
                format!("{what}: model `{name}` has no layer `{word}`{hint}"),
            ));
        };
        if !top.contains(&i) {
            return Err(syn::Error::new(
                id.span(),
                format!("{what}: `{word}` is inside an unnamed `residual` or `parallel`; name the composite and use its output"),
            ));
        }
        Ok(i)
    };

    let mut out = Resolved::default();
    for r in &c.regularize {
        let kind = r.kind.to_string();
        let what = format!("regularizer `{kind}` on `{}`", r.target);
        let i = find(&r.target, "regularize")?;
        let path = &root.fields[i].path;
        let at = r.kind.span();
        let args = r.args.as_ref();
        let (after, weight, kind_code) = match kind.as_str() {
            "activity_l1" => {
                let v = number_args(&what, at, args, &[("weight", Some(1.0))])?;
                (
                    i,
                    check_weight(&what, "weight", v[0])?,
                    PenaltyKind::ActivityL1,
                )
            }
            "sparsity_kl" => {
                let v = number_args(&what, at, args, &[("rho", None), ("weight", Some(1.0))])?;
                let (rho, rho_at) = v[0];
                if !(rho > 0.0 && rho < 1.0) {
                    return Err(syn::Error::new(
                        rho_at,
                        format!("{what}: `rho` is the target mean activation, strictly between 0 and 1, found {rho}"),
                    ));
                }
                (
                    i,
                    check_weight(&what, "weight", v[1])?,
                    PenaltyKind::SparsityKl { rho },
                )
            }
            "contractive" => {
                let v = number_args(&what, at, args, &[("weight", Some(1.0))])?;
                let f = &root.fields[i];
                let is_dense = matches!(f.what, What::Layer(_))
                    && kind_word(&f.kind_text) == "Dense"
                    && f.input.len() == 1;
                if !is_dense {
                    return Err(syn::Error::new(
                        r.target.span(),
                        format!(
                            "{what}: the closed-form contractive penalty needs a `Dense` layer on [features] followed by `Sigmoid`, but `{path}` is `{}` on {}",
                            f.kind_text,
                            fmt_shape(&f.input)
                        ),
                    ));
                }
                let n = root
                    .steps
                    .iter()
                    .position(|s| matches!(s, Step::Field(t) if *t == i));
                let next = n.and_then(|n| root.steps.get(n + 1));
                let after = match next {
                    Some(Step::Field(j)) => Some(*j),
                    _ => None,
                };
                match after {
                    Some(j) if kind_word(&root.fields[j].kind_text) == "Sigmoid" => {}
                    other => {
                        let found = match (other, next) {
                            (Some(j), _) => format!("`{}`", root.fields[j].kind_text),
                            (None, None) => "nothing (it is the last layer)".into(),
                            (None, Some(_)) => "a composite".into(),
                        };
                        return Err(syn::Error::new(
                            r.target.span(),
                            format!("{what}: the closed-form contractive penalty needs `Sigmoid` right after `{path}: {}`, found {found}", root.fields[i].kind_text),
                        ));
                    }
                }
                let j = after.unwrap_or(i);
                (
                    j,
                    check_weight(&what, "weight", v[0])?,
                    PenaltyKind::Contractive {
                        dense: root.fields[i].field.clone(),
                    },
                )
            }
            _ => {
                let kinds = ["activity_l1", "sparsity_kl", "contractive"];
                let hint = match closest(&kind, kinds) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("the regularizers are {}", kinds.join(", ")),
                };
                return Err(syn::Error::new(
                    at,
                    format!("unknown regularizer `{kind}`; {hint}"),
                ));
            }
        };
        let term = format!("{path}.{kind}");
        if out.penalties.iter().any(|(_, p)| p.name == term) {
            return Err(syn::Error::new(
                at,
                format!("`{kind}` is attached to `{path}` twice"),
            ));
        }
        out.penalties.push((
            after,
            Penalty {
                name: term,
                weight,
                kind: kind_code,
            },
        ));
    }

    if let Some((_, list)) = &c.outputs {
        for o in list {
            if out.outputs.iter().any(|p| p.name == o.name) {
                return Err(syn::Error::new(
                    o.name.span(),
                    format!("duplicate output name `{}`", o.name),
                ));
            }
            let i = find(&o.path[0], "outputs")?;
            let f = &root.fields[i];
            let text: Vec<String> = o.path.iter().map(Ident::to_string).collect();
            let head = match &o.path[1..] {
                [] => None,
                [h] => {
                    let gaussian = matches!(&f.what, What::Scope(s) if is_gaussian(s));
                    match (gaussian, h.to_string().as_str()) {
                        (true, "mu") => Some(Head::Mu),
                        (true, "logvar") => Some(Head::LogVar),
                        (true, other) => {
                            return Err(syn::Error::new(
                                h.span(),
                                format!("a `gaussian` code has the heads `mu` and `logvar`, not `{other}`"),
                            ))
                        }
                        (false, _) => {
                            return Err(syn::Error::new(
                                h.span(),
                                format!("outputs name the model's own layers and a `gaussian` code's `mu` / `logvar`; `{}` is inside `{}`", text.join("."), f.path),
                            ))
                        }
                    }
                }
                [_, extra, ..] => {
                    return Err(syn::Error::new(
                        extra.span(),
                        format!("outputs name the model's own layers and a `gaussian` code's `mu` / `logvar`, not `{}`", text.join(".")),
                    ))
                }
            };
            out.outputs.push(Output {
                name: o.name.clone(),
                field: i,
                head,
                shape: f.output.clone(),
                path: text.join("."),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_file;
    use crate::plan::infer_file;

    /// Resolves the first model of `src`; the error's message on failure.
    fn resolved(src: &str) -> Result<Resolved, String> {
        let file = parse_file(syn::parse_str(src).expect("lexes")).map_err(|e| e.to_string())?;
        let plan = infer_file(&file).into_iter().next().expect("a model");
        plan.and_then(|p| resolve(&p)).map_err(|e| e.to_string())
    }

    fn msg(src: &str) -> String {
        resolved(src).map(|_| ()).unwrap_err()
    }

    const AE: &str = "pub Ae(input: [6]) { enc: Dense(3), code: Sigmoid, dec: Dense(6) }";

    fn with_reg(reg: &str) -> String {
        format!("{AE} regularize {{ {reg} }}")
    }

    #[test]
    fn regularizers_resolve_to_pushes_after_their_layers() {
        let r = resolved(&with_reg(
            "code: sparsity_kl(0.05, 3), enc: contractive(weight = 1e-4), dec: activity_l1",
        ))
        .unwrap();
        let got: Vec<(usize, &str, f64)> = r
            .penalties
            .iter()
            .map(|(i, p)| (*i, p.name.as_str(), p.weight))
            .collect();
        // The contractive penalty is pushed after the sigmoid (field 1).
        assert_eq!(
            got,
            [
                (1, "code.sparsity_kl", 3.0),
                (1, "enc.contractive", 1e-4),
                (2, "dec.activity_l1", 1.0)
            ]
        );
        assert!(matches!(r.penalties[0].1.kind, PenaltyKind::SparsityKl { rho } if rho == 0.05));
    }

    #[test]
    fn regularizer_argument_errors() {
        let m = msg(&with_reg("code: sparsity_kl(weight = 3.0)"));
        assert!(m.contains("needs `rho`"), "{m}");
        let m = msg(&with_reg("code: sparsity_kl(rho = 0, weight = 3.0)"));
        assert!(m.contains("strictly between 0 and 1, found 0"), "{m}");
        let m = msg(&with_reg("code: sparsity_kl(rho = 0.1, wieght = 3.0)"));
        assert!(
            m.contains("unknown argument `wieght`") && m.contains("`weight`"),
            "{m}"
        );
        let m = msg(&with_reg("code: activity_l1(1.0, 2.0)"));
        assert!(m.contains("too many arguments"), "{m}");
        let m = msg(&with_reg("code: activity_l1(1.0, weight = 2.0)"));
        assert!(m.contains("given twice"), "{m}");
        let m = msg(&with_reg("code: activity_l1(weight = -1.0)"));
        assert!(m.contains("must be at least 0"), "{m}");
        let m = msg(&with_reg("code: activity_l1(weight = big)"));
        assert!(m.contains("is a number, found a keyword `big`"), "{m}");
        let m = msg(&with_reg("code: activity_l1, code: activity_l1(2)"));
        assert!(m.contains("attached to `code` twice"), "{m}");
    }

    #[test]
    fn contractive_needs_a_dense_then_a_sigmoid() {
        let m = msg(&with_reg("code: contractive"));
        assert!(m.contains("but `code` is `Sigmoid` on [3]"), "{m}");
        let m = msg(&with_reg("dec: contractive"));
        assert!(m.contains("found nothing (it is the last layer)"), "{m}");
        let m = msg("pub N(input: [2, 4, 4]) { c: Conv2d(2, kernel = 1), Sigmoid } regularize { c: contractive }");
        assert!(
            m.contains("`c` is `Conv2d(2, kernel = 1)` on [2, 4, 4]"),
            "{m}"
        );
        let m = msg("pub N(input: [4]) { d: Dense(4), parallel(add) { a { ReLU } b { Sigmoid } } } regularize { d: contractive }");
        assert!(m.contains("found a composite"), "{m}");
    }

    #[test]
    fn names_must_be_top_level_layers() {
        let m = msg("pub N(input: [4]) { parallel(add) { a { ReLU } b { Sigmoid } } } regularize { a: activity_l1 }");
        assert!(
            m.contains("inside an unnamed `residual` or `parallel`"),
            "{m}"
        );
        let m = msg("pub N(input: [4]) { g: { Dense(2) } } regularize { dense_1: activity_l1 }");
        assert!(
            m.contains("has no layer `dense_1`; its layers are g"),
            "{m}"
        );
        let m = msg("pub N(input: [4], outputs(x = g.fc)) { g: { fc: Dense(2) } }");
        assert!(m.contains("`g.fc` is inside `g`"), "{m}");
        let m = msg("pub N(input: [4], outputs(x = z.mu.weight)) { z: gaussian { mu { Dense(2) } logvar { Dense(2) } } }");
        assert!(m.contains("not `z.mu.weight`"), "{m}");
    }

    #[test]
    fn outputs_resolve_to_fields_and_heads() {
        let r = resolved(
            "pub V(input: [4], reconstructs, outputs(mu = z.mu, lv = z.logvar, z, out)) {
                 z: gaussian(kl_weight = 0.5) { mu { Dense(2) } logvar { Dense(2) } },
                 out: Dense(4),
             }",
        )
        .unwrap();
        let got: Vec<(String, usize, Option<Head>, Vec<u64>)> = r
            .outputs
            .iter()
            .map(|o| (o.name.to_string(), o.field, o.head, o.shape.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("mu".into(), 0, Some(Head::Mu), vec![2]),
                ("lv".into(), 0, Some(Head::LogVar), vec![2]),
                ("z".into(), 0, None, vec![2]),
                ("out".into(), 1, None, vec![4]),
            ]
        );
    }

    #[test]
    fn header_clause_errors() {
        let m = msg("pub N(input: [4], reconstruct) { Dense(4) }");
        assert!(m.contains("unknown model clause `reconstruct`"), "{m}");
        let m = msg("pub N(input: [4], reconstructs, reconstructs) { Dense(4) }");
        assert!(m.contains("written twice"), "{m}");
        let m = msg("pub N(input: [4], outputs()) { Dense(4) }");
        assert!(m.contains("`outputs()` is empty"), "{m}");
        let m = msg("pub N(input: tokens[4], reconstructs) { Embedding(10, 2) }");
        assert!(m.contains("reads token ids"), "{m}");
        assert!(resolved("pub N(input: [4], reconstructs,) { Dense(4) }").is_ok());
    }

    #[test]
    fn gaussian_heads_are_fields_and_errors_name_them() {
        let file = parse_file(
            syn::parse_str(
                "pub V(input: [4]) { gaussian { logvar { Dense(3), Dense(2) } mu { Dense(2) } } }",
            )
            .expect("lexes"),
        )
        .unwrap();
        let plan = infer_file(&file).into_iter().next().unwrap().unwrap();
        let g = &plan.root.fields[0];
        assert_eq!((g.path.as_str(), g.output.clone()), ("gaussian_1", vec![2]));
        let What::Scope(s) = &g.what else { panic!() };
        assert!(is_gaussian(s));
        let names: Vec<&str> = s.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["mu", "logvar"]);
        assert_eq!(s.prefix, "gaussian_1.");
        let m = msg("pub V(input: [4]) { z: gaussian { mu { Dense(2) } } }");
        assert!(m.contains("has no `logvar` head"), "{m}");
        let m = msg("pub V(input: [4]) { z: gaussian { mu { Dense(2) } mu { Dense(2) } logvar { Dense(2) } } }");
        assert!(m.contains("`mu` is written twice"), "{m}");
        let m = msg("pub V(input: [4]) { z: gaussian { mu { Dense(2) } sigma { Dense(2) } } }");
        assert!(m.contains("not `sigma`"), "{m}");
        let m = msg("pub V(input: [4]) { z: gaussian { mu { } logvar { Dense(2) } } }");
        assert!(m.contains("`mu` needs at least one layer"), "{m}");
        let m = msg("pub V(input: [4]) { z: gaussian(kl_weight = -1) { mu { Dense(2) } logvar { Dense(2) } } }");
        assert!(m.contains("`kl_weight` must be at least 0"), "{m}");
        let m = msg(
            "pub V(input: [4]) { z: gaussian(beta = 1) { mu { Dense(2) } logvar { Dense(2) } } }",
        );
        assert!(m.contains("unknown argument `beta`"), "{m}");
    }
}
