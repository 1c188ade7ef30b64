//! Block templates: `block Name(p1, p2) { .. }` used as `Name(a, b)`.
//!
//! A use is expanded inline before inference: its arguments are bound to the
//! parameters (positionally or `p = value`), every parameter in the body is
//! replaced by the argument as written at the use (so an error about a bad
//! argument points at the use), and integer arithmetic (`width * 4`, `c / 2`)
//! is evaluated. Wrong arity, unknown parameters, non-integer arithmetic,
//! inexact division and recursion between templates are spanned errors.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use crate::layers::names::closest;
use crate::parse::{Arg, Args, BlockDef, Body, LayerCall, Node, Stmt, Value};

/// The templates of one `model!` call, by name.
#[derive(Debug, Default)]
pub struct Templates<'a> {
    defs: HashMap<String, &'a BlockDef>,
}

/// Parameter name -> the argument written at the use.
pub type Env = HashMap<String, Value>;

impl<'a> Templates<'a> {
    /// Collects the templates; a name declared twice is an error on the second.
    pub fn new(defs: impl IntoIterator<Item = &'a BlockDef>) -> syn::Result<Self> {
        let mut out = Templates::default();
        for d in defs {
            let name = d.name.to_string();
            let mut seen: Vec<String> = Vec::new();
            for p in &d.params {
                let w = p.to_string();
                if seen.contains(&w) {
                    return Err(syn::Error::new(
                        p.span(),
                        format!("block `{name}` declares the parameter `{w}` twice"),
                    ));
                }
                seen.push(w);
            }
            if out.defs.insert(name.clone(), d).is_some() {
                return Err(syn::Error::new(
                    d.name.span(),
                    format!("block `{name}` is declared twice"),
                ));
            }
        }
        Ok(out)
    }

    /// The template called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&'a BlockDef> {
        self.defs.get(name).copied()
    }

    /// The template name closest to `word` (for "did you mean").
    pub fn closest(&self, word: &str) -> Option<&str> {
        closest(word, self.defs.keys().map(String::as_str))
    }
}

/// Binds a use's arguments to the template's parameters. `env` is the
/// environment of the use's own scope (arguments may use its parameters).
pub fn bind_args(def: &BlockDef, call: &LayerCall, env: &Env) -> syn::Result<Env> {
    let name = &def.name;
    let params: Vec<String> = def.params.iter().map(Ident::to_string).collect();
    let sig = format!("{name}({})", params.join(", "));
    let empty = Args {
        span: call.kind.span(),
        list: Vec::new(),
    };
    let args = call.args.as_ref().unwrap_or(&empty);
    let mut out = Env::new();
    let mut positional = 0;
    for Arg { name: n, value } in &args.list {
        let value = subst_value(value, env)?;
        let key = match n {
            Some(n) => {
                let w = n.to_string();
                if !params.contains(&w) {
                    return Err(syn::Error::new(
                        n.span(),
                        format!("block `{sig}` has no parameter `{w}`"),
                    ));
                }
                w
            }
            None => {
                let Some(p) = params.get(positional) else {
                    return Err(syn::Error::new(
                        value.span(),
                        format!(
                            "block `{sig}` takes {} argument{}, more given",
                            params.len(),
                            if params.len() == 1 { "" } else { "s" }
                        ),
                    ));
                };
                positional += 1;
                p.clone()
            }
        };
        let span = value.span();
        if out.insert(key.clone(), value).is_some() {
            return Err(syn::Error::new(
                span,
                format!("block `{sig}`: `{key}` is given twice"),
            ));
        }
    }
    let missing: Vec<&str> = params
        .iter()
        .filter(|p| !out.contains_key(*p))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(syn::Error::new(
            args.span,
            format!(
                "block `{sig}` takes {} argument{}, {} given: missing `{}`",
                params.len(),
                if params.len() == 1 { "" } else { "s" },
                out.len(),
                missing.join("`, `")
            ),
        ));
    }
    Ok(out)
}

/// `body` with every parameter of `env` replaced and arithmetic evaluated.
pub fn subst_body(body: &Body, env: &Env) -> syn::Result<Body> {
    let stmts = body
        .stmts
        .iter()
        .map(|s| {
            Ok(Stmt {
                name: s.name.clone(),
                node: subst_node(&s.node, env)?,
                assert: s.assert.clone(),
            })
        })
        .collect::<syn::Result<_>>()?;
    Ok(Body {
        span: body.span,
        stmts,
    })
}

fn subst_args(args: &Args, env: &Env) -> syn::Result<Args> {
    let list = args
        .list
        .iter()
        .map(|a| {
            Ok(Arg {
                name: a.name.clone(),
                value: subst_value(&a.value, env)?,
            })
        })
        .collect::<syn::Result<_>>()?;
    Ok(Args {
        span: args.span,
        list,
    })
}

fn subst_node(node: &Node, env: &Env) -> syn::Result<Node> {
    Ok(match node {
        Node::Call(c) => Node::Call(LayerCall {
            kind: c.kind.clone(),
            args: c.args.as_ref().map(|a| subst_args(a, env)).transpose()?,
        }),
        Node::Group(b) => Node::Group(subst_body(b, env)?),
        Node::Repeat { kw, count, body } => Node::Repeat {
            kw: kw.clone(),
            count: subst_value(count, env)?,
            body: subst_body(body, env)?,
        },
        Node::Residual { kw, args, body } => Node::Residual {
            kw: kw.clone(),
            args: subst_args(args, env)?,
            body: subst_body(body, env)?,
        },
        Node::Parallel { kw, args, branches } => Node::Parallel {
            kw: kw.clone(),
            args: subst_args(args, env)?,
            branches: subst_branches(branches, env)?,
        },
        Node::Gaussian { kw, args, branches } => Node::Gaussian {
            kw: kw.clone(),
            args: subst_args(args, env)?,
            branches: subst_branches(branches, env)?,
        },
    })
}

fn subst_branches(branches: &[(Ident, Body)], env: &Env) -> syn::Result<Vec<(Ident, Body)>> {
    branches
        .iter()
        .map(|(n, b)| Ok((n.clone(), subst_body(b, env)?)))
        .collect()
}

/// A value with parameters replaced (keeping the use's span) and arithmetic
/// evaluated to an integer.
pub fn subst_value(v: &Value, env: &Env) -> syn::Result<Value> {
    Ok(match v {
        Value::Ident(i) => match env.get(&i.to_string()) {
            Some(bound) => bound.clone(),
            None => v.clone(),
        },
        Value::Tuple { items, span } => Value::Tuple {
            items: items
                .iter()
                .map(|i| subst_value(i, env))
                .collect::<syn::Result<_>>()?,
            span: *span,
        },
        Value::Call(c) => Value::Call(LayerCall {
            kind: c.kind.clone(),
            args: c.args.as_ref().map(|a| subst_args(a, env)).transpose()?,
        }),
        Value::Expr { op, lhs, rhs, span } => {
            let a = int_operand(&subst_value(lhs, env)?, *op)?;
            let b = int_operand(&subst_value(rhs, env)?, *op)?;
            let value = arith(*op, a, b, *span)?;
            Value::Int {
                value,
                text: value.to_string(),
                span: *span,
            }
        }
        other => other.clone(),
    })
}

/// The integer an operand of `op` evaluates to; an error points where the
/// value was written (at the use, for a block argument).
fn int_operand(v: &Value, op: char) -> syn::Result<i128> {
    match v {
        Value::Int { value, .. } => Ok(*value),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`{op}` needs integers, found {} `{}`",
                other.describe(),
                other.text()
            ),
        )),
    }
}

fn arith(op: char, a: i128, b: i128, span: Span) -> syn::Result<i128> {
    let overflow = || syn::Error::new(span, format!("`{a} {op} {b}` overflows"));
    match op {
        '+' => a.checked_add(b).ok_or_else(overflow),
        '-' => a.checked_sub(b).ok_or_else(overflow),
        '*' => a.checked_mul(b).ok_or_else(overflow),
        _ if b == 0 => Err(syn::Error::new(
            span,
            format!("`{a} / 0`: division by zero"),
        )),
        _ if a % b != 0 => Err(syn::Error::new(
            span,
            format!("`{a} / {b}` is not a whole number"),
        )),
        _ => Ok(a / b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_file, Item};

    fn blocks(src: &str) -> Vec<BlockDef> {
        parse_file(syn::parse_str(src).expect("lexes"))
            .expect("parses")
            .items
            .into_iter()
            .filter_map(|i| match i {
                Item::Block(b) => Some(b),
                Item::Model(_) => None,
            })
            .collect()
    }

    fn call(src: &str) -> LayerCall {
        let body = crate::parse::parse_body_tokens(
            syn::parse_str(&format!("{{ {src} }}")).expect("lexes"),
        )
        .expect("parses");
        match &body.stmts[0].node {
            Node::Call(c) => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binds_positional_and_named_and_evaluates_arithmetic() {
        let b =
            blocks("block B(width, stride) { Conv2d(width * 4 - 1, kernel = 3, stride = stride) }");
        let env = bind_args(&b[0], &call("B(16, stride = 2)"), &Env::new()).unwrap();
        let body = subst_body(&b[0].body, &env).unwrap();
        let Node::Call(c) = &body.stmts[0].node else {
            panic!()
        };
        let args = &c.args.as_ref().unwrap().list;
        assert_eq!(args[0].value.text(), "63");
        assert_eq!(args[2].value.text(), "2");
    }

    #[test]
    fn arity_and_argument_errors() {
        let b = blocks("block B(c, s) { Dense(c) }");
        let e = |src: &str| {
            bind_args(&b[0], &call(src), &Env::new())
                .unwrap_err()
                .to_string()
        };
        assert!(e("B(1)").contains("takes 2 arguments, 1 given: missing `s`"));
        assert!(e("B(1, 2, 3)").contains("more given"));
        assert!(e("B(1, t = 2)").contains("no parameter `t`"));
        assert!(e("B(1, c = 2)").contains("`c` is given twice"));
        let b = blocks("block H(c) { Dense(c / 3) } block F(c) { Dense(c * 2) }");
        let env = bind_args(&b[0], &call("H(10)"), &Env::new()).unwrap();
        let m = subst_body(&b[0].body, &env).unwrap_err().to_string();
        assert!(m.contains("`10 / 3` is not a whole number"), "{m}");
        let env = bind_args(&b[1], &call("F(1.5)"), &Env::new()).unwrap();
        let m = subst_body(&b[1].body, &env).unwrap_err().to_string();
        assert!(m.contains("needs integers, found a float `1.5`"), "{m}");
    }
}
