//! The syntax tree of the `model!` DSL and its `syn` parser.
//!
//! ```text
//! input    := item*
//! item     := attr* vis Name '(' 'input' ':' ['tokens'] '[' dims ']' (',' clause)* ')'
//!               '{' stmts '}' ['regularize' '{' .. '}']     (see `clauses`)
//!           | attr* 'block' Name '(' idents ')' '{' stmts '}'
//! stmts    := (stmt (',' | <after a '}'>))*
//! stmt     := [field ':'] node ['->' '[' dims ']']
//! node     := '{' stmts '}'                        group
//!           | 'repeat' INT '{' stmts '}'
//!           | 'residual' ['(' args ')'] '{' stmts '}'
//!           | 'parallel' ['(' args ')'] '{' (branch '{' stmts '}' [','])* '}'
//!           | 'gaussian' ['(' args ')'] '{' 'mu' '{' stmts '}' 'logvar' '{' stmts '}' '}'
//!           | Kind ['(' args ')']                    layer call or nested model
//! args     := (arg (',' arg)*)? [',']
//! arg      := [name '='] value
//! value    := term (('+' | '-') term)*             arithmetic on block parameters
//! term     := atom (('*' | '/') atom)*
//! atom     := INT | FLOAT | '-' INT | '-' FLOAT | true | false | ident
//!           | Kind '(' args ')' | '(' value, .. ')'
//! dims     := dim (',' dim)*    dim := INT | '_' | ident (a run-time size)
//! ```
//!
//! `input: tokens[35]` declares integer token ids (`usize`), for `Embedding`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{braced, bracketed, parenthesized, Attribute, Ident, Token, Visibility};

use crate::clauses::{self, Clauses};

/// Everything inside one `model! { .. }` call.
#[derive(Debug, Clone)]
pub struct File {
    pub items: Vec<Item>,
}

/// A model declaration or a block template.
#[derive(Debug, Clone)]
pub enum Item {
    Model(ModelDef),
    Block(BlockDef),
}

/// `pub Name(input: [..]) { .. }`.
#[derive(Debug, Clone)]
pub struct ModelDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: ShapeLit,
    pub body: Body,
    /// `reconstructs`, `outputs(..)`, `regularize { .. }`.
    pub clauses: Clauses,
}

/// `block Name(params) { .. }`: a template, expanded where it is used.
#[derive(Debug, Clone)]
#[allow(dead_code)] // `attrs` and `block_kw` are kept for docs and messages
pub struct BlockDef {
    pub attrs: Vec<Attribute>,
    pub block_kw: Ident,
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Body,
}

/// A `{ .. }` list of statements with the span of its braces.
#[derive(Debug, Clone)]
pub struct Body {
    pub span: Span,
    pub stmts: Vec<Stmt>,
}

/// `[name:] node [-> [..]]`.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub name: Option<Ident>,
    pub node: Node,
    pub assert: Option<ShapeLit>,
}

/// What a statement does.
#[derive(Debug, Clone)]
pub enum Node {
    /// `Kind` or `Kind(args)`: a catalogue layer, a nested model type or a block use.
    Call(LayerCall),
    /// `{ .. }`.
    Group(Body),
    /// `repeat N { .. }`.
    Repeat { kw: Ident, count: Value, body: Body },
    /// `residual(args) { .. }`.
    Residual { kw: Ident, args: Args, body: Body },
    /// `parallel(args) { b1 { .. } b2 { .. } }`.
    Parallel {
        kw: Ident,
        args: Args,
        branches: Vec<(Ident, Body)>,
    },
    /// `gaussian(args) { mu { .. } logvar { .. } }`: a VAE's code.
    Gaussian {
        kw: Ident,
        args: Args,
        branches: Vec<(Ident, Body)>,
    },
}

impl Node {
    /// The token an error about this node should point at.
    pub fn span(&self) -> Span {
        match self {
            Node::Call(c) => c.kind.span(),
            Node::Group(b) => b.span,
            Node::Repeat { kw, .. }
            | Node::Residual { kw, .. }
            | Node::Parallel { kw, .. }
            | Node::Gaussian { kw, .. } => kw.span(),
        }
    }
}

/// `Kind(args)`.
#[derive(Debug, Clone)]
pub struct LayerCall {
    pub kind: Ident,
    /// `None` when written without parentheses.
    pub args: Option<Args>,
}

/// A parenthesised argument list.
#[derive(Debug, Clone)]
pub struct Args {
    pub span: Span,
    pub list: Vec<Arg>,
}

/// `value` or `name = value`.
#[derive(Debug, Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
}

impl Arg {
    /// Where an error about this argument should point.
    pub fn span(&self) -> Span {
        self.value.span()
    }
}

/// An argument value.
#[derive(Debug, Clone)]
pub enum Value {
    /// An integer literal (possibly negated), range-checked into `i128`.
    Int {
        value: i128,
        text: String,
        span: Span,
    },
    /// A float literal (possibly negated).
    Float {
        value: f64,
        text: String,
        span: Span,
    },
    Bool {
        value: bool,
        span: Span,
    },
    Ident(Ident),
    /// `(a, b, ..)`.
    Tuple {
        items: Vec<Value>,
        span: Span,
    },
    /// `Kind(args)`: a layer as an argument (`Bidirectional(Lstm(64))`).
    Call(LayerCall),
    /// `lhs op rhs` with `op` one of `+ - * /` (block parameters), spanned on the operator.
    Expr {
        op: char,
        lhs: Box<Value>,
        rhs: Box<Value>,
        span: Span,
    },
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::Bool { span, .. }
            | Value::Tuple { span, .. }
            | Value::Expr { span, .. } => *span,
            Value::Ident(i) => i.span(),
            Value::Call(c) => c.kind.span(),
        }
    }

    /// The value as the user wrote it (for summaries and messages).
    pub fn text(&self) -> String {
        match self {
            Value::Int { text, .. } | Value::Float { text, .. } => text.clone(),
            Value::Bool { value, .. } => value.to_string(),
            Value::Ident(i) => i.to_string(),
            Value::Tuple { items, .. } => {
                let parts: Vec<String> = items.iter().map(Value::text).collect();
                format!("({})", parts.join(", "))
            }
            Value::Expr { op, lhs, rhs, .. } => format!("{} {op} {}", lhs.text(), rhs.text()),
            Value::Call(c) => crate::layers::args::kind_text(c),
        }
    }

    /// A short noun for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Int { .. } => "an integer",
            Value::Float { .. } => "a float",
            Value::Bool { .. } => "a boolean",
            Value::Ident(_) => "a keyword",
            Value::Tuple { .. } => "a tuple",
            Value::Expr { .. } => "an expression",
            Value::Call(_) => "a layer",
        }
    }
}

/// `[d1, d2, ..]` with its bracket span; dims are literal sizes or dynamic names.
#[derive(Debug, Clone)]
pub struct ShapeLit {
    pub span: Span,
    pub dims: Vec<DimLit>,
    /// Written `tokens[..]`: integer token ids (input declarations only).
    pub tokens: bool,
}

/// One dimension of a written shape.
#[derive(Debug, Clone)]
pub enum DimLit {
    Fixed {
        value: u64,
        span: Span,
    },
    /// `_` or a name: a run-time size (a `usize` dim).
    Dynamic {
        span: Span,
    },
}

impl DimLit {
    #[allow(dead_code)]
    pub fn span(&self) -> Span {
        match self {
            DimLit::Fixed { span, .. } | DimLit::Dynamic { span } => *span,
        }
    }
}

/// Parses the tokens of a `model!` call.
pub fn parse_file(tokens: TokenStream) -> syn::Result<File> {
    Parser::parse2(File::parse, tokens)
}

impl Parse for File {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        if items.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "model! is empty: declare a model, e.g. `pub Net(input: [784]) { fc: Dense(10) }`",
            ));
        }
        Ok(File { items })
    }
}

fn is_ident(input: ParseStream, word: &str) -> bool {
    input
        .fork()
        .parse::<Ident>()
        .map(|i| i == word)
        .unwrap_or(false)
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        if is_ident(input, "block") && input.peek2(Ident) {
            let block_kw: Ident = input.parse()?;
            let name: Ident = input.parse()?;
            let content;
            parenthesized!(content in input);
            let params = content.parse_terminated(Ident::parse, Token![,])?;
            let body = parse_body(input)?;
            return Ok(Item::Block(BlockDef {
                attrs,
                block_kw,
                name,
                params: params.into_iter().collect(),
                body,
            }));
        }
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a model declaration like `pub Net(input: [784]) { .. }`",
            )
        })?;
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                name.span(),
                format!("model `{name}` has no input shape: write `{name}(input: [..]) {{ .. }}`"),
            ));
        }
        let content;
        let paren = parenthesized!(content in input);
        let mut clauses = Clauses::default();
        let input_shape = parse_input_decl(&content, paren.span.join(), &name, &mut clauses)?;
        let body = parse_body(input)?;
        clauses::parse_trailing(input, &mut clauses)?;
        Ok(Item::Model(ModelDef {
            attrs,
            vis,
            name,
            input: input_shape,
            body,
            clauses,
        }))
    }
}

fn parse_input_decl(
    content: ParseStream,
    paren: Span,
    name: &Ident,
    clauses: &mut Clauses,
) -> syn::Result<ShapeLit> {
    let hint =
        format!("write the input shape as `{name}(input: [..])`, e.g. `(input: [1, 28, 28])`");
    if content.is_empty() {
        return Err(syn::Error::new(
            paren,
            format!("missing input shape: {hint}"),
        ));
    }
    let key: Ident = content
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("malformed input shape: {hint}")))?;
    if key != "input" {
        return Err(syn::Error::new(
            key.span(),
            format!("unknown model parameter `{key}`: {hint}"),
        ));
    }
    content
        .parse::<Token![:]>()
        .map_err(|e| syn::Error::new(e.span(), format!("malformed input shape: {hint}")))?;
    let tokens = is_ident(content, "tokens") && content.peek2(syn::token::Bracket);
    if tokens {
        content.parse::<Ident>()?;
    }
    if !content.peek(syn::token::Bracket) {
        return Err(syn::Error::new(
            content.span(),
            format!("malformed input shape: {hint} (or `tokens[..]` for token ids)"),
        ));
    }
    let mut shape = parse_shape_lit(content)?;
    shape.tokens = tokens;
    while !content.is_empty() {
        content.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("unexpected tokens after the input shape; {hint}"),
            )
        })?;
        if content.is_empty() {
            break;
        }
        clauses::parse_header_clause(content, clauses)?;
    }
    Ok(shape)
}

/// `[d1, d2, ..]`.
pub fn parse_shape_lit(input: ParseStream) -> syn::Result<ShapeLit> {
    let content;
    let bracket = bracketed!(content in input);
    let span = bracket.span.join();
    let mut dims = Vec::new();
    while !content.is_empty() {
        if content.peek(Token![_]) {
            let u: Token![_] = content.parse()?;
            dims.push(DimLit::Dynamic { span: u.span });
        } else if content.peek(Ident) {
            let i: Ident = content.parse()?;
            dims.push(DimLit::Dynamic { span: i.span() });
        } else if content.peek(syn::LitInt) {
            let lit: syn::LitInt = content.parse()?;
            let value = lit.base10_parse::<u64>().map_err(|_| {
                syn::Error::new(lit.span(), format!("dimension `{lit}` is too large"))
            })?;
            dims.push(DimLit::Fixed {
                value,
                span: lit.span(),
            });
        } else {
            return Err(content.error("expected a dimension (an integer, `_` or a name)"));
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    if dims.is_empty() {
        return Err(syn::Error::new(
            span,
            "a shape needs at least one dimension",
        ));
    }
    Ok(ShapeLit {
        span,
        dims,
        tokens: false,
    })
}

/// A `{ .. }` body from tokens (used for generated sub-layers such as a
/// residual's projection shortcut).
pub fn parse_body_tokens(tokens: TokenStream) -> syn::Result<Body> {
    Parser::parse2(parse_body, tokens)
}

fn parse_body(input: ParseStream) -> syn::Result<Body> {
    if !input.peek(syn::token::Brace) {
        return Err(input.error("expected `{ .. }` with the layers"));
    }
    let content;
    let brace = braced!(content in input);
    let stmts = parse_stmts(&content)?;
    Ok(Body {
        span: brace.span.join(),
        stmts,
    })
}

fn parse_stmts(input: ParseStream) -> syn::Result<Vec<Stmt>> {
    let mut stmts = Vec::new();
    while !input.is_empty() {
        let stmt: Stmt = input.parse()?;
        let ends_in_brace = stmt.assert.is_none()
            && matches!(
                stmt.node,
                Node::Group(_)
                    | Node::Repeat { .. }
                    | Node::Residual { .. }
                    | Node::Parallel { .. }
                    | Node::Gaussian { .. }
            );
        stmts.push(stmt);
        if input.is_empty() {
            break;
        }
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !ends_in_brace {
            return Err(input.error("expected `,` between layers"));
        }
    }
    Ok(stmts)
}

/// A layer named by a number, `3: Conv2d(..)` (the keys of a PyTorch
/// `Sequential`): the field `_3`, whose parameter path is `3`
/// (see `plan::path_of`).
fn parse_index_name(input: ParseStream) -> syn::Result<Ident> {
    let lit: syn::LitInt = input.parse()?;
    input.parse::<Token![:]>()?;
    let digits = lit.to_string();
    if !lit.suffix().is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "a layer named by a number is written in plain digits, like `3:`, not `{digits}:`"
            ),
        ));
    }
    Ok(Ident::new(&format!("_{digits}"), lit.span()))
}

impl Parse for Stmt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let n: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            Some(n)
        } else if input.peek(syn::LitInt) && input.peek2(Token![:]) {
            Some(parse_index_name(input)?)
        } else {
            None
        };
        let node = parse_node(input)?;
        let assert = if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            if !input.peek(syn::token::Bracket) {
                return Err(input.error("expected a shape `[..]` after `->`"));
            }
            Some(parse_shape_lit(input)?)
        } else {
            None
        };
        Ok(Stmt { name, node, assert })
    }
}

fn parse_node(input: ParseStream) -> syn::Result<Node> {
    if input.peek(syn::token::Brace) {
        return Ok(Node::Group(parse_body(input)?));
    }
    if !input.peek(Ident) {
        return Err(input.error("expected a layer, e.g. `Dense(10)` or `fc: Dense(10)`"));
    }
    let kind: Ident = input.parse()?;
    if kind == "repeat" && !input.peek(syn::token::Paren) {
        let count = parse_value(input)?;
        let body = parse_body(input)?;
        return Ok(Node::Repeat {
            kw: kind,
            count,
            body,
        });
    }
    if (kind == "residual" || kind == "parallel" || kind == "gaussian")
        && (input.peek(syn::token::Brace)
            || (input.peek(syn::token::Paren) && input.peek2(syn::token::Brace)))
    {
        let args = if input.peek(syn::token::Paren) {
            parse_args(input)?
        } else {
            Args {
                span: kind.span(),
                list: Vec::new(),
            }
        };
        if kind == "residual" {
            let body = parse_body(input)?;
            return Ok(Node::Residual {
                kw: kind,
                args,
                body,
            });
        }
        let content;
        braced!(content in input);
        let mut branches = Vec::new();
        while !content.is_empty() {
            // `_` names a branch that is no field of its own (see `plan`).
            let name: Ident = if content.peek(Token![_]) {
                let u = content.parse::<Token![_]>()?;
                Ident::new("_", u.span)
            } else {
                content.parse()?
            };
            let body = parse_body(&content)?;
            branches.push((name, body));
            if content.peek(Token![,]) {
                content.parse::<Token![,]>()?;
            }
        }
        if kind == "gaussian" {
            return Ok(Node::Gaussian {
                kw: kind,
                args,
                branches,
            });
        }
        return Ok(Node::Parallel {
            kw: kind,
            args,
            branches,
        });
    }
    let args = if input.peek(syn::token::Paren) {
        Some(parse_args(input)?)
    } else {
        None
    };
    Ok(Node::Call(LayerCall { kind, args }))
}

pub(crate) fn parse_args(input: ParseStream) -> syn::Result<Args> {
    let content;
    let paren = parenthesized!(content in input);
    let mut list = Vec::new();
    while !content.is_empty() {
        let name = if content.peek(Ident) && content.peek2(Token![=]) && !content.peek2(Token![==])
        {
            let n: Ident = content.parse()?;
            content.parse::<Token![=]>()?;
            Some(n)
        } else {
            None
        };
        let value = parse_value(&content)?;
        list.push(Arg { name, value });
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Args {
        span: paren.span.join(),
        list,
    })
}

/// `term (('+' | '-') term)*`.
fn parse_value(input: ParseStream) -> syn::Result<Value> {
    let mut lhs = parse_term(input)?;
    while input.peek(Token![+]) || input.peek(Token![-]) {
        let (op, span) = if input.peek(Token![+]) {
            ('+', input.parse::<Token![+]>()?.span)
        } else {
            ('-', input.parse::<Token![-]>()?.span)
        };
        let rhs = parse_term(input)?;
        lhs = Value::Expr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        };
    }
    Ok(lhs)
}

/// `atom (('*' | '/') atom)*`.
fn parse_term(input: ParseStream) -> syn::Result<Value> {
    let mut lhs = parse_atom(input)?;
    while input.peek(Token![*]) || input.peek(Token![/]) {
        let (op, span) = if input.peek(Token![*]) {
            ('*', input.parse::<Token![*]>()?.span)
        } else {
            ('/', input.parse::<Token![/]>()?.span)
        };
        let rhs = parse_atom(input)?;
        lhs = Value::Expr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        };
    }
    Ok(lhs)
}

fn parse_atom(input: ParseStream) -> syn::Result<Value> {
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let span = minus.span;
        return match parse_atom(input)? {
            Value::Int { value, text, .. } => Ok(Value::Int {
                value: -value,
                text: format!("-{text}"),
                span,
            }),
            Value::Float { value, text, .. } => Ok(Value::Float {
                value: -value,
                text: format!("-{text}"),
                span,
            }),
            other => Err(syn::Error::new(other.span(), "only numbers can be negated")),
        };
    }
    if input.peek(syn::LitInt) {
        let lit: syn::LitInt = input.parse()?;
        if !lit.suffix().is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "write the number without a type suffix",
            ));
        }
        let value = lit
            .base10_parse::<u64>()
            .map_err(|_| syn::Error::new(lit.span(), format!("number `{lit}` is too large")))?;
        return Ok(Value::Int {
            value: i128::from(value),
            text: lit.base10_digits().to_string(),
            span: lit.span(),
        });
    }
    if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        if !lit.suffix().is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "write the number without a type suffix",
            ));
        }
        let value = lit.base10_parse::<f64>()?;
        if !value.is_finite() {
            return Err(syn::Error::new(
                lit.span(),
                format!("number `{lit}` is too large"),
            ));
        }
        return Ok(Value::Float {
            value,
            text: lit.base10_digits().to_string(),
            span: lit.span(),
        });
    }
    if input.peek(syn::LitBool) {
        let lit: syn::LitBool = input.parse()?;
        return Ok(Value::Bool {
            value: lit.value,
            span: lit.span,
        });
    }
    if input.peek(Ident) {
        let kind: Ident = input.parse()?;
        if input.peek(syn::token::Paren) {
            let args = parse_args(input)?;
            return Ok(Value::Call(LayerCall {
                kind,
                args: Some(args),
            }));
        }
        return Ok(Value::Ident(kind));
    }
    if input.peek(syn::token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(parse_value(&content)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Value::Tuple {
            items,
            span: paren.span.join(),
        });
    }
    Err(input.error("expected a value: a number, `true`/`false`, a keyword or a pair `(a, b)`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> syn::Result<File> {
        parse_file(syn::parse_str(src).expect("test source lexes"))
    }

    fn model(src: &str) -> ModelDef {
        match parse(src).map(|f| f.items.into_iter().next()) {
            Ok(Some(Item::Model(m))) => m,
            other => panic!("expected a model, got {other:?}"),
        }
    }

    #[test]
    fn layers_names_arguments_and_assertions() {
        let m = model(
            "/// doc\n #[allow(unused)] pub(crate) Net(input: [1, 28, 28]) {
                conv1: Conv2d(32, kernel = (5, 5), padding = same) -> [32, 28, 28],
                ReLU,
                LeakyReLU(-0.5),
                pad: ZeroPadding2d(((1, 0), (2, 3))),
            }",
        );
        assert_eq!(m.name, "Net");
        assert_eq!(m.attrs.len(), 2);
        assert!(matches!(m.vis, Visibility::Restricted(_)));
        assert!(matches!(
            m.input.dims[..],
            [
                DimLit::Fixed { value: 1, .. },
                _,
                DimLit::Fixed { value: 28, .. }
            ]
        ));
        assert_eq!(m.body.stmts.len(), 4);
        let s = &m.body.stmts[0];
        assert_eq!(
            s.name.as_ref().map(Ident::to_string).as_deref(),
            Some("conv1")
        );
        assert_eq!(s.assert.as_ref().map(|a| a.dims.len()), Some(3));
        let Node::Call(c) = &s.node else { panic!() };
        let args = &c.args.as_ref().unwrap().list;
        assert_eq!(args.len(), 3);
        assert!(args[0].name.is_none());
        assert_eq!(args[1].name.as_ref().unwrap(), "kernel");
        assert_eq!(args[1].value.text(), "(5, 5)");
        assert_eq!(args[2].value.text(), "same");
        let Node::Call(c) = &m.body.stmts[1].node else {
            panic!()
        };
        assert!(c.args.is_none() && m.body.stmts[1].name.is_none());
        let Node::Call(c) = &m.body.stmts[2].node else {
            panic!()
        };
        match &c.args.as_ref().unwrap().list[0].value {
            Value::Float { value, text, .. } => assert_eq!((*value, text.as_str()), (-0.5, "-0.5")),
            other => panic!("{other:?}"),
        }
        let Node::Call(c) = &m.body.stmts[3].node else {
            panic!()
        };
        assert_eq!(
            c.args.as_ref().unwrap().list[0].value.text(),
            "((1, 0), (2, 3))"
        );
    }

    #[test]
    fn composite_nodes_and_blocks_parse() {
        let f = parse(
            "block Basic(channels, stride) {
                residual(shortcut = auto) { Conv2d(channels, kernel = 3, stride = stride), BatchNorm2d },
                ReLU,
            }
            pub Net(input: [3, 32, 32]) {
                stem: { Conv2d(8, kernel = 3), ReLU } -> [8, 30, 30],
                layer1: repeat 2 { Basic(8, 1) },
                parallel(concat) {
                    a { Conv2d(4, kernel = 1) }
                    b { Conv2d(4, kernel = 3, padding = same), ReLU },
                }
                GlobalAvgPool,
            }",
        )
        .unwrap();
        let Item::Block(b) = &f.items[0] else {
            panic!()
        };
        assert_eq!(b.params.len(), 2);
        assert!(matches!(b.body.stmts[0].node, Node::Residual { .. }));
        let Item::Model(m) = &f.items[1] else {
            panic!()
        };
        assert!(matches!(&m.body.stmts[0].node, Node::Group(g) if g.stmts.len() == 2));
        assert!(m.body.stmts[0].assert.is_some());
        assert!(matches!(
            &m.body.stmts[1].node,
            Node::Repeat {
                count: Value::Int { value: 2, .. },
                ..
            }
        ));
        match &m.body.stmts[2].node {
            Node::Parallel { args, branches, .. } => {
                assert_eq!(args.list[0].value.text(), "concat");
                assert_eq!(branches.len(), 2);
                assert_eq!(branches[1].1.stmts.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.body.stmts.len(), 4);
    }

    #[test]
    fn syntax_errors() {
        let e = |src: &str| parse(src).map(|_| ()).unwrap_err().to_string();
        assert!(e("").contains("model! is empty"));
        assert!(e("pub Net { Dense(1) }").contains("has no input shape"));
        assert!(e("pub Net(inputs: [1]) { Dense(1) }").contains("unknown model parameter `inputs`"));
        assert!(
            e("pub Net(input: [1]) { Dense(1) Dense(2) }").contains("expected `,` between layers")
        );
        assert!(e("pub Net(input: [1]) { Dense(1u8) }").contains("without a type suffix"));
        assert!(e("pub Net(input: [1]) { Dense(100000000000000000000) }").contains("too large"));
        assert!(e("pub Net(input: [1]) { Dense(1) -> 3 }").contains("expected a shape"));
        assert!(e("pub Net(input: []) { Dense(1) }").contains("at least one dimension"));
        assert!(e("pub Net(input: [1]) { Dense(-true) }").contains("only numbers can be negated"));
        assert!(e("pub Net(input: [1]) { Dense(\"a\") }").contains("expected a value"));
    }
}
