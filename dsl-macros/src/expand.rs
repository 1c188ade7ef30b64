//! Code generation: a [`ModelPlan`] becomes a struct with one field per
//! layer plus its `TensorCollection`, `Module`, `ModuleMut`, `ModelInfo` and
//! `Model` impls, in the exact form of `tests/hand_expanded.rs`.
//!
//! Every size is written as a literal, so no const expression appears in a
//! bound. Nested model types are checked with non-generic const assertions
//! spanned on their use.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use crate::api;
use crate::clauses;
use crate::hooks;
use crate::layers::common::{dims_of, fmt_shape, is_tokens, DYN};
use crate::layers::parallel::Merge;
use crate::parse::parse_file;
use crate::paths;
use crate::plan::{infer_file, ModelPlan, PlannedLayer, Scope, Step, What};

/// Parses, infers and expands a whole `model!` call. Errors become
/// `compile_error!` invocations spanned on the offending tokens; models
/// without errors are still expanded, so follow-on errors stay few.
pub fn expand_tokens(input: TokenStream) -> TokenStream {
    let (mut tokens, error) = expand_all(input);
    if let Some(e) = error {
        tokens.extend(e.to_compile_error());
    }
    tokens
}

/// [`expand_tokens`] for `[krate] items..`: the first token tree, a bracketed
/// path (`[$crate]`), is where the generated code finds sxima.
pub fn expand_with_crate(input: TokenStream) -> TokenStream {
    let mut tokens = input.into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Group(g))
            if g.delimiter() == proc_macro2::Delimiter::Bracket =>
        {
            paths::with_crate(g.stream(), || expand_tokens(tokens.collect()))
        }
        other => {
            let span = other.map_or_else(proc_macro2::Span::call_site, |t| t.span());
            syn::Error::new(span, "`__model!` is internal: write `sxima::model! { .. }`")
                .to_compile_error()
        }
    }
}

/// The code of every model that expanded, and the combined error of all
/// items that did not (`None` when everything expanded).
pub fn expand_all(input: TokenStream) -> (TokenStream, Option<syn::Error>) {
    let file = match parse_file(input) {
        Ok(f) => f,
        Err(e) => return (TokenStream::new(), Some(e)),
    };
    let mut out = TokenStream::new();
    let mut error: Option<syn::Error> = None;
    for plan in infer_file(&file) {
        match plan.and_then(|p| expand_model(&p)) {
            Ok(ts) => out.extend(ts),
            Err(e) => match &mut error {
                Some(all) => all.combine(e),
                None => error = Some(e),
            },
        }
    }
    (out, error)
}

fn dfdx() -> TokenStream {
    paths::dfdx()
}

fn rt() -> TokenStream {
    paths::rt()
}

fn n(v: u64) -> Literal {
    Literal::u64_unsuffixed(v)
}

/// `(B, Const<28>, ..)`: a run-time dim ([`DYN`]) is `usize`; the token
/// marker is dropped (the element type says tokens, see [`input_elem`]).
pub fn tensor_shape(dims: &[u64]) -> TokenStream {
    let dfdx = dfdx();
    let d = dims_of(dims).iter().map(|&v| {
        if v == DYN {
            quote!(usize)
        } else {
            let v = n(v);
            quote!(#dfdx::shapes::Const<#v>)
        }
    });
    quote!((B, #(#d,)*))
}

/// The value of [`tensor_shape`] for a batch `batch`: `Const` for fixed dims,
/// `dynamic` for run-time ones.
fn shape_value(dims: &[u64], batch: TokenStream, dynamic: &TokenStream) -> TokenStream {
    let dfdx = dfdx();
    let d = dims_of(dims).iter().map(|&v| {
        if v == DYN {
            dynamic.clone()
        } else {
            quote!(#dfdx::shapes::Const)
        }
    });
    quote!((#batch, #(#d,)*))
}

/// The element type of a batch of `dims`: `usize` for token ids, else `E`.
pub fn input_elem(dims: &[u64]) -> TokenStream {
    if is_tokens(dims) {
        quote!(usize)
    } else {
        quote!(E)
    }
}

/// `&[28, 28]` (a run-time dim is written 0, the [`DYN`] marker).
fn shape_lit(dims: &[u64]) -> TokenStream {
    let d = dims_of(dims).iter().map(|&v| n(v));
    quote!(&[#(#d),*])
}

/// How one field of the generated struct is typed, built and counted.
struct FieldCode {
    ty: TokenStream,
    /// `None` for layers with parameters (built by the visitor).
    ctor: Option<TokenStream>,
    /// A method call applied to a visited layer once built.
    post: Option<TokenStream>,
    /// Parameter count as a const expression.
    params: TokenStream,
}

/// A per-layer total over a scope: parameters or multiply-accumulates.
#[derive(Clone, Copy)]
enum Total {
    Params,
    Macs,
}

impl Total {
    fn of(self, i: &crate::layers::Inferred) -> u64 {
        match self {
            Total::Params => i.params,
            Total::Macs => i.macs,
        }
    }
    /// A nested model's constant.
    fn nested(self, ty: &Ident) -> TokenStream {
        let rt = rt();
        match self {
            Total::Params => quote!(<#ty as #rt::model::ModelInfo>::PARAM_COUNT),
            Total::Macs => quote!(<#ty as #rt::model::ModelInfo>::MACS),
        }
    }
    fn what(self) -> &'static str {
        match self {
            Total::Params => "parameters",
            Total::Macs => "multiply-accumulates",
        }
    }
}

/// A total of a scope: the literal part (checked for overflow) and nested
/// models' constants.
fn scope_total(scope: &Scope, name: &Ident, t: Total) -> syn::Result<(u64, Vec<TokenStream>)> {
    let mut literal: u64 = 0;
    let mut nested = Vec::new();
    for l in &scope.fields {
        let add = match &l.what {
            What::Layer(i) => t.of(i),
            What::Nested { ty } => {
                nested.push(t.nested(ty));
                0
            }
            What::Scope(s) => {
                let (lit, more) = scope_total(s, name, t)?;
                nested.extend(more);
                lit
            }
        };
        literal = literal.checked_add(add).ok_or_else(|| {
            syn::Error::new(
                name.span(),
                format!("model `{name}` has too many {} to count", t.what()),
            )
        })?;
    }
    Ok((literal, nested))
}

/// A scope's total as a const expression (`10 + <Encoder as ModelInfo>::PARAM_COUNT`).
fn total_expr(scope: &Scope, name: &Ident, t: Total) -> syn::Result<TokenStream> {
    let (lit, nested) = scope_total(scope, name, t)?;
    let lit = n(lit);
    Ok(quote!(#lit #(+ #nested)*))
}

fn params_expr(scope: &Scope, name: &Ident) -> syn::Result<TokenStream> {
    total_expr(scope, name, Total::Params)
}

/// The field of one planned layer: a catalogue layer writes its own runtime
/// type ([`crate::layers::Emit`]); a nested model is its generated struct; a
/// composite is its helper struct.
fn field_code(layer: &PlannedLayer, name: &Ident) -> syn::Result<FieldCode> {
    let rt = rt();
    Ok(match &layer.what {
        What::Nested { ty } => FieldCode {
            ty: quote!(#ty<E, D>),
            ctor: None,
            post: None,
            params: quote!(<#ty as #rt::model::ModelInfo>::PARAM_COUNT),
        },
        What::Layer(inferred) => {
            let code = inferred.code.emit(&paths::layers());
            let p = n(inferred.params);
            FieldCode {
                ty: code.ty,
                ctor: code.ctor,
                post: code.post,
                params: quote!(#p),
            }
        }
        What::Scope(s) => {
            let ty = &s.ty;
            FieldCode {
                ty: quote!(#ty<E, D>),
                ctor: None,
                post: None,
                params: params_expr(s, name)?,
            }
        }
    })
}

/// Nests visitor fields into tuples of at most 6 (dfdx implements
/// `ModuleFields` for tuples up to 6): returns (fields expr, closure pattern).
fn nest(items: Vec<(TokenStream, TokenStream)>) -> (TokenStream, TokenStream) {
    if items.len() <= 6 {
        let (e, p): (Vec<_>, Vec<_>) = items.into_iter().unzip();
        return (quote!((#(#e,)*)), quote!((#(#p,)*)));
    }
    let mut groups = Vec::new();
    let mut rest = items.into_iter();
    loop {
        let chunk: Vec<_> = rest.by_ref().take(6).collect();
        if chunk.is_empty() {
            break;
        }
        groups.push(nest(chunk));
    }
    nest(groups)
}

/// The struct of one scope (fields, docs), its `TensorCollection` and its
/// `Module` / `ModuleMut` forwards. The model's own attributes, derives and
/// docs come from the caller (`head`).
fn scope_items(
    scope: &Scope,
    model: &Ident,
    head: TokenStream,
    vis: &syn::Visibility,
    hook: Option<&Hook<'_>>,
) -> syn::Result<TokenStream> {
    let dfdx = dfdx();
    let rt = rt();
    let name = &scope.ty;
    let codes: Vec<FieldCode> = scope
        .fields
        .iter()
        .map(|l| field_code(l, model))
        .collect::<syn::Result<_>>()?;
    let fields: Vec<&Ident> = scope.fields.iter().map(|l| &l.field).collect();
    let tys: Vec<&TokenStream> = codes.iter().map(|c| &c.ty).collect();
    // Docs on every generated item, so `#![deny(missing_docs)]` crates can use the macro.
    let field_docs: Vec<String> = scope
        .fields
        .iter()
        .map(|l| match &l.what {
            What::Layer(i) if i.params > 0 || i.macs > 0 => format!(
                "`{}`: output {}; {} parameters, {} multiply-accumulates per sample",
                l.kind_text,
                fmt_shape(&l.output),
                i.params,
                i.macs
            ),
            _ => format!("`{}`: output {}", l.kind_text, fmt_shape(&l.output)),
        })
        .collect();

    let uses_generics = codes.iter().any(|c| c.ctor.is_none());
    let marker = format_ident!("__sxima_marker");
    let (marker_field, marker_init) = if uses_generics {
        (quote!(), quote!())
    } else {
        (
            quote!(#[doc(hidden)] pub #marker: ::core::marker::PhantomData<fn() -> (E, D)>,),
            quote!(#marker: ::core::marker::PhantomData,),
        )
    };
    let visited: Vec<(TokenStream, TokenStream)> = scope
        .fields
        .iter()
        .zip(&codes)
        .filter(|(_, c)| c.ctor.is_none())
        .map(|(l, _)| {
            let f = &l.field;
            let s = &l.path;
            (
                quote!(Self::module(#s, |s| &s.#f, |s| &mut s.#f)),
                quote!(#f),
            )
        })
        .collect();
    let (visit_expr, visit_pat) = nest(visited);
    let inits = scope.fields.iter().zip(&codes).map(|(l, c)| {
        let f = &l.field;
        match (&c.ctor, &c.post) {
            (Some(ctor), _) => quote!(#f: #ctor,),
            (None, Some(post)) => quote!(#f: #f #post,),
            (None, None) => quote!(#f,),
        }
    });

    let in_shape = tensor_shape(&scope.input);
    let in_elem = input_elem(&scope.input);
    let out_shape = tensor_shape(&scope.output);
    let tensor = quote!(#dfdx::tensor::Tensor);
    let mut counter = 0;
    let steps = steps_code(scope, &scope.steps, Fwd::INFER, &mut counter, None);
    let steps_mut = steps_code(scope, &scope.steps, Fwd::TRAIN, &mut counter, hook);
    let gaussian = gaussian_method(scope, &mut counter);
    let pen_ty = quote!(#rt::penalty::Penalties<E, D, T>);
    let bounds = quote!(B: #dfdx::shapes::Dim, E: #rt::Elem, D: #rt::Backend<E>, T: #dfdx::tensor::Tape<E, D>);
    Ok(quote! {
        #head
        #vis struct #name<E: #dfdx::shapes::Dtype = f32, D: #dfdx::tensor::Storage<E> = #dfdx::tensor::Cpu> {
            #(#[doc = #field_docs] pub #fields: #tys,)*
            #marker_field
        }

        impl<E: #rt::Elem, D: #rt::Backend<E>> #dfdx::nn::TensorCollection<E, D> for #name<E, D> {
            type To<E2: #dfdx::shapes::Dtype, D2: #dfdx::tensor_ops::Device<E2>> = #name<E2, D2>;
            fn iter_tensors<V: #dfdx::nn::ModuleVisitor<Self, E, D>>(
                visitor: &mut V,
            ) -> ::core::result::Result<::core::option::Option<Self::To<V::E2, V::D2>>, V::Err> {
                visitor.visit_fields(
                    #visit_expr,
                    |#visit_pat| #name { #(#inits)* #marker_init },
                )
            }
        }

        impl<#bounds> #dfdx::nn::Module<#tensor<#in_shape, #in_elem, D, T>> for #name<E, D> {
            type Output = #tensor<#out_shape, E, D, T>;
            type Error = D::Err;
            fn try_forward(
                &self,
                x: #tensor<#in_shape, #in_elem, D, T>,
            ) -> ::core::result::Result<Self::Output, D::Err> {
                #steps
                ::core::result::Result::Ok(x)
            }
        }

        impl<E: #rt::Elem, D: #rt::Backend<E>> #name<E, D> {
            /// The training forward, collecting penalty terms into `__pen`
            /// when given (generated; `ModuleMut` and `Model` call it).
            #[doc(hidden)]
            #[allow(unused_mut, unused_variables, clippy::type_complexity)]
            pub fn __sxima_train<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>>(
                &mut self,
                x: #tensor<#in_shape, #in_elem, D, T>,
                mut __pen: ::core::option::Option<&mut #pen_ty>,
            ) -> #rt::Result<#tensor<#out_shape, E, D, T>> {
                #steps_mut
                ::core::result::Result::Ok(x)
            }
            #gaussian
        }

        impl<#bounds> #dfdx::nn::ModuleMut<#tensor<#in_shape, #in_elem, D, T>> for #name<E, D> {
            type Output = #tensor<#out_shape, E, D, T>;
            type Error = #rt::Error;
            fn try_forward_mut(
                &mut self,
                x: #tensor<#in_shape, #in_elem, D, T>,
            ) -> #rt::Result<Self::Output> {
                self.__sxima_train(x, ::core::option::Option::None)
            }
        }
    })
}

/// Which forward is being generated.
#[derive(Clone, Copy)]
pub struct Fwd {
    /// Training (`&mut self`, penalties collected into `__pen`) or inference.
    pub mutable: bool,
    /// Whether the function returns sxima's `Result` (device errors
    /// converted with `dev`) rather than the device's error.
    pub rt: bool,
}

impl Fwd {
    /// dfdx's `Module` forward.
    pub const INFER: Fwd = Fwd {
        mutable: false,
        rt: false,
    };
    /// The training forward (`__sxima_train`).
    pub const TRAIN: Fwd = Fwd {
        mutable: true,
        rt: true,
    };
    /// `e?` for an expression returning the device's error.
    pub fn q(self, e: TokenStream) -> TokenStream {
        if self.rt {
            let rt = rt();
            quote!(#rt::error::DeviceResultExt::dev(#e)?)
        } else {
            quote!(#e?)
        }
    }
}

/// Code for the model's own top-level fields, given a field's index, its
/// step's code and the forward: returns the code to emit instead (the step
/// plus penalty pushes and captured outputs).
pub type Hook<'a> = dyn Fn(usize, TokenStream, Fwd) -> TokenStream + 'a;

/// The value of field `l` applied to `arg` (errors propagated with `?`).
fn call_field(l: &PlannedLayer, arg: TokenStream, fwd: Fwd) -> TokenStream {
    let dfdx = dfdx();
    let f = &l.field;
    match (&l.what, fwd.mutable) {
        (What::Scope(_), true) => {
            quote!(self.#f.__sxima_train(#arg, __pen.as_deref_mut())?)
        }
        (_, true) => fwd.q(quote!(#dfdx::nn::ModuleMut::try_forward_mut(&mut self.#f, #arg))),
        (_, false) => fwd.q(quote!(#dfdx::nn::Module::try_forward(&self.#f, #arg))),
    }
}

/// For a `gaussian` code's struct: `__sxima_gaussian`, its training forward
/// returning the sample and both heads (nothing for other structs).
fn gaussian_method(scope: &Scope, counter: &mut usize) -> TokenStream {
    let [Step::Gaussian {
        mu,
        logvar,
        kl_weight,
    }] = scope.steps.as_slice()
    else {
        return TokenStream::new();
    };
    let dfdx = dfdx();
    let rt = rt();
    let in_shape = tensor_shape(&scope.input);
    let out_shape = tensor_shape(&scope.output);
    let mu_code = steps_code(scope, mu, Fwd::TRAIN, counter, None);
    let lv_code = steps_code(scope, logvar, Fwd::TRAIN, counter, None);
    let term = format!("{}kl", scope.prefix);
    quote! {
        /// The code's training forward: the sample `mu + exp(logvar / 2) * eps`
        /// and both heads; pushes the KL term into `__pen` when given.
        #[doc(hidden)]
        #[allow(clippy::type_complexity)]
        pub fn __sxima_gaussian<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>>(
            &mut self,
            x: #dfdx::tensor::Tensor<#in_shape, E, D, T>,
            mut __pen: ::core::option::Option<&mut #rt::penalty::Penalties<E, D, T>>,
        ) -> #rt::Result<#rt::penalty::attach::GaussianSample<#out_shape, E, D, T>> {
            let __logvar_in = #rt::layers::merge::fork(&x);
            #mu_code
            let __mu = x;
            let x = __logvar_in;
            #lv_code
            #rt::penalty::attach::gaussian_sample(
                __mu,
                x,
                __pen.map(|p| (p, #term, #kl_weight)),
            )
        }
    }
}

/// The forward code of `steps` over `scope`'s fields: one `let x` per step;
/// composite steps fork `x` and join the results ([`sxima_runtime::layers::merge`]).
/// `hook` rewrites the steps of the fields directly in `steps` (the model's
/// top level), not those inside composites.
pub fn steps_code(
    scope: &Scope,
    steps: &[Step],
    fwd: Fwd,
    counter: &mut usize,
    hook: Option<&Hook<'_>>,
) -> TokenStream {
    let dfdx = dfdx();
    let rt = rt();
    let tensor = quote!(#dfdx::tensor::Tensor);
    let merge = quote!(#rt::layers::merge);
    let mut out = TokenStream::new();
    for step in steps {
        *counter += 1;
        let k = *counter;
        match step {
            Step::Field(i) => {
                let code = field_step(scope, &scope.fields[*i], fwd);
                out.extend(match hook {
                    Some(h) => h(*i, code, fwd),
                    None => code,
                })
            }
            Step::Gaussian { mu, .. } if !fwd.mutable => {
                out.extend(steps_code(scope, mu, fwd, counter, None));
            }
            Step::Gaussian { .. } => {
                let shape = tensor_shape(&scope.output);
                out.extend(quote! {
                    let x: #tensor<#shape, E, D, T> =
                        self.__sxima_gaussian(x, __pen.as_deref_mut())?.z;
                });
            }
            Step::Residual {
                body,
                shortcut,
                output,
            } => {
                let skip = format_ident!("__skip_{}", k);
                let add_skip = fwd.q(quote!(#merge::add(x, #skip)));
                let body_code = steps_code(scope, body, fwd, counter, None);
                let shape = tensor_shape(output);
                let short = match shortcut {
                    Some(i) => call_field(&scope.fields[*i], quote!(#skip), fwd),
                    None => quote!(#skip),
                };
                out.extend(quote! {
                    let #skip = #merge::fork(&x);
                    #body_code
                    let #skip: #tensor<#shape, E, D, T> = #short;
                    let x: #tensor<#shape, E, D, T> = #add_skip;
                });
            }
            Step::Parallel {
                branches,
                merge: how,
                output,
            } => {
                let outs: Vec<Ident> = (0..branches.len())
                    .map(|j| format_ident!("__branch_{}_{}", k, j))
                    .collect();
                for (j, (b, o)) in branches.iter().zip(&outs).enumerate() {
                    let arg = if j + 1 == branches.len() {
                        quote!(x)
                    } else {
                        quote!(#merge::fork(&x))
                    };
                    let body = steps_code(scope, &b.steps, fwd, counter, None);
                    let shape = tensor_shape(&b.output);
                    out.extend(
                        quote!(let #o: #tensor<#shape, E, D, T> = { let x = #arg; #body x };),
                    );
                }
                let batch = format_ident!("__batch_{}", k);
                let first = &outs[0];
                out.extend(quote!(let #batch = #dfdx::shapes::HasShape::shape(&#first).0;));
                let consts = |dims: &[u64]| {
                    let d = dims.iter().map(|&v| n(v));
                    quote!(#(#dfdx::shapes::Const::<#d>,)*)
                };
                let shape = tensor_shape(output);
                let all = consts(output);
                match how {
                    Merge::Concat => {
                        let join = match output.len() {
                            1 => quote!(#merge::concat_features),
                            2 => quote!(#merge::concat_channels3),
                            _ => quote!(#merge::concat_channels),
                        };
                        let rest = consts(&output[1..]);
                        let dynamic: Vec<TokenStream> = branches
                            .iter()
                            .zip(&outs)
                            .map(|(b, o)| {
                                let c = Literal::usize_suffixed(b.output[0] as usize);
                                fwd.q(quote!(#rt::model::cross_boundary(#o, (#batch, #c, #rest))))
                            })
                            .collect();
                        let head = &dynamic[0];
                        let joins = dynamic[1..].iter().map(|t| fwd.q(quote!(#join(x, #t))));
                        let last = fwd.q(quote!(#rt::model::cross_boundary(x, (#batch, #all))));
                        out.extend(quote! {
                            let x = #head;
                            #(let x = #joins;)*
                            let x: #tensor<#shape, E, D, T> = #last;
                        });
                    }
                    Merge::Add | Merge::Mul => {
                        let join = if *how == Merge::Add {
                            quote!(#merge::add)
                        } else {
                            quote!(#merge::mul)
                        };
                        let full: Vec<TokenStream> = branches
                            .iter()
                            .zip(&outs)
                            .map(|(b, o)| {
                                let s = &b.output;
                                if s == output {
                                    quote!(#o)
                                } else if s.len() == 1 {
                                    fwd.q(quote!(#merge::gate_like(#o, (#batch, #all))))
                                } else {
                                    let gate = fwd.q(quote!(#merge::squeeze_gate(#o)));
                                    fwd.q(quote!(#merge::gate_like(#gate, (#batch, #all))))
                                }
                            })
                            .collect();
                        let head = &full[0];
                        let joins = full[1..].iter().map(|t| fwd.q(quote!(#join(x, #t))));
                        out.extend(quote! {
                            let x: #tensor<#shape, E, D, T> = #head;
                            #(let x: #tensor<#shape, E, D, T> = #joins;)*
                        });
                    }
                }
            }
        }
    }
    out
}

/// `let x = self.f(x)`; a nested model's step is located on its use, and
/// in training collects its penalty terms under the field's path.
fn field_step(scope: &Scope, l: &PlannedLayer, fwd: Fwd) -> TokenStream {
    let dfdx = dfdx();
    let rt = rt();
    let tensor = quote!(#dfdx::tensor::Tensor);
    let f = &l.field;
    let shape = tensor_shape(&l.output);
    match &l.what {
        // The tensor crosses the boundary through `cross_boundary`, typed
        // by the inner model's own shapes on one side and the declared
        // ones on the other, so a mismatch is reported once, by the const
        // assertions, and not again as a type error here. The code is
        // located at the nested type but resolved at the call site: its
        // locals (`x`, `self`) must share the hygiene of the fn.
        What::Nested { ty } => {
            let at = proc_macro2::Span::call_site().located_at(ty.span());
            let model = quote_spanned!(at=> <#ty<E, D> as #rt::model::Model<E, D>>);
            let call = if fwd.mutable {
                let path = format!("{}{}", scope.prefix, l.path);
                quote_spanned! {at=>
                    match __pen.as_deref_mut() {
                        ::core::option::Option::Some(__p) => {
                            let mut __inner = #rt::penalty::Penalties::new();
                            let y = #model::try_forward_mut_penalized(&mut self.#f, x, &mut __inner)?;
                            __p.extend_prefixed(#path, __inner);
                            y
                        }
                        ::core::option::Option::None => #model::try_forward_mut(&mut self.#f, x)?,
                    }
                }
            } else {
                fwd.q(quote_spanned!(at=> #dfdx::nn::Module::try_forward(&self.#f, x)))
            };
            let consts = l.output.iter().map(|_| quote!(#dfdx::shapes::Const));
            let into = fwd.q(quote_spanned! {at=>
                #rt::model::cross_boundary(x, #model::input_shape(batch))
            });
            let out = fwd.q(quote_spanned! {at=>
                #rt::model::cross_boundary(x, (batch, #(#consts,)*))
            });
            quote_spanned! {at=>
                let batch = #dfdx::shapes::HasShape::shape(&x).0;
                let x = #into;
                let x = #call;
                let x: #tensor<#shape, E, D, T> = #out;
            }
        }
        What::Layer(_) | What::Scope(_) => {
            let call = call_field(l, quote!(x), fwd);
            quote!(let x: #tensor<#shape, E, D, T> = #call;)
        }
    }
}

/// Const assertions for every nested model in `scope` and below.
fn nested_checks(scope: &Scope, out: &mut Vec<TokenStream>) {
    let rt = rt();
    for l in &scope.fields {
        match &l.what {
            What::Scope(s) => nested_checks(s, out),
            What::Layer(_) => {}
            What::Nested { ty } => {
                let field = &l.field;
                let prev = shape_lit(&l.input);
                let given = shape_lit(&l.output);
                let msg_in = format!(
                    "{field}: {ty} expects a different input shape than the previous layer's output {}",
                    fmt_shape(&l.input)
                );
                let msg_out = format!(
                    "{field}: {ty} gives a different output shape than the asserted `-> {}`",
                    fmt_shape(&l.output)
                );
                out.push(quote_spanned! {ty.span()=>
                    const _: () = {
                        ::core::assert!(
                            #rt::model::shapes_equal(<#ty as #rt::model::ModelInfo>::INPUT_SHAPE, #prev),
                            #msg_in
                        );
                        ::core::assert!(
                            #rt::model::shapes_equal(<#ty as #rt::model::ModelInfo>::OUTPUT_SHAPE, #given),
                            #msg_out
                        );
                    };
                });
            }
        }
    }
}

/// The helper structs of every composite below `scope`.
fn helper_structs(
    scope: &Scope,
    model: &Ident,
    vis: &syn::Visibility,
    out: &mut TokenStream,
) -> syn::Result<()> {
    for l in &scope.fields {
        if let What::Scope(s) = &l.what {
            helper_structs(s, model, vis, out)?;
            let doc = format!(
                "`{}` of model `{model}`: {} -> {} (generated by `model!`).",
                l.kind_text,
                fmt_shape(&s.input),
                fmt_shape(&s.output)
            );
            let head = quote! {
                #[doc = #doc]
                #[doc(hidden)]
                #[allow(non_camel_case_types)]
                #[derive(::core::fmt::Debug, ::core::clone::Clone)]
            };
            out.extend(scope_items(s, model, head, vis, None)?);
        }
    }
    Ok(())
}

/// The summary rows of `scope`'s fields and, below each composite, of its
/// own fields (depth first): dotted names (`layer1.0.conv1`, the parameter
/// paths), the nesting depth, and each row's parameters and
/// multiply-accumulates (a composite's are its totals).
fn summary_rows(
    scope: &Scope,
    prefix: &str,
    depth: usize,
    model: &Ident,
    out: &mut Vec<TokenStream>,
) -> syn::Result<()> {
    let rt = rt();
    for l in &scope.fields {
        let path = format!("{prefix}{}", l.path);
        let k = &l.kind_text;
        let shape = shape_lit(&l.output);
        let p = field_code(l, model)?.params;
        let macs = match &l.what {
            What::Layer(i) => {
                let m = n(i.macs);
                quote!(#m)
            }
            What::Nested { ty } => Total::Macs.nested(ty),
            What::Scope(s) => total_expr(s, model, Total::Macs)?,
        };
        out.push(quote!(#rt::model::LayerSummary {
            name: #path,
            kind: #k,
            depth: #depth,
            output_shape: #shape,
            params: #p,
            macs: #macs,
        }));
        if let What::Scope(s) = &l.what {
            summary_rows(s, &format!("{path}."), depth + 1, model, out)?;
        }
    }
    Ok(())
}

/// Generates the code of one model.
pub fn expand_model(plan: &ModelPlan<'_>) -> syn::Result<TokenStream> {
    let dfdx = dfdx();
    let rt = rt();
    let def = plan.def;
    let name = &def.name;
    let vis = &def.vis;
    let attrs = &def.attrs;
    let root = &plan.root;
    let struct_doc = if attrs.iter().any(|a| a.path().is_ident("doc")) {
        quote!()
    } else {
        let d = format!(
            "Model `{name}`: {} -> {} (generated by `model!`).",
            fmt_shape(&plan.input),
            fmt_shape(&plan.output)
        );
        quote!(#[doc = #d])
    };
    let derives = api::derives(attrs);
    let head = quote!(#(#attrs)* #struct_doc #derives);
    let resolved = clauses::resolve(plan)?;
    let penalties = |i: usize, mut code: TokenStream, fwd: Fwd| {
        code.extend(hooks::penalty_code(&resolved, i, fwd));
        code
    };
    let main = scope_items(root, name, head, vis, Some(&penalties))?;
    let multi = hooks::multi_output(plan, &resolved, &api::token_ids(plan.vocab));
    let mut helpers = TokenStream::new();
    helper_structs(root, name, vis, &mut helpers)?;
    let mut checks = Vec::new();
    nested_checks(root, &mut checks);

    let param_count = params_expr(root, name)?;
    let macs = total_expr(root, name, Total::Macs)?;
    let mut summaries = Vec::new();
    summary_rows(root, "", 0, name, &mut summaries)?;
    let name_str = name.to_string();
    let input_lit = shape_lit(&plan.input);
    let output_lit = shape_lit(&plan.output);
    let zero = quote!(0usize);
    let input_value = shape_value(&plan.input, quote!(batch), &zero);
    let output_value = shape_value(&plan.output, quote!(batch), &zero);
    let model_in = tensor_shape(&plan.input);
    let model_out = tensor_shape(&plan.output);
    let vocab = plan.vocab;
    let forward_api = api::forward_api(name, &plan.input, &plan.output, vocab);
    let model_forwards = api::model_forwards(vocab);

    Ok(quote! {
        #main

        #helpers

        #(#checks)*

        impl<E: #rt::Elem, D: #rt::Backend<E>> #name<E, D> {
            /// Builds the model on `device` with freshly initialised parameters
            /// (seed the device, e.g. `Cpu::seed_from_u64`, for reproducible weights).
            pub fn build(device: &D) -> Self {
                <Self as #dfdx::nn::BuildModule<D, E>>::build(device)
            }
            /// The Keras-style summary table (layer, output shape, parameters).
            pub fn summary() -> #rt::model::ModelSummary {
                <Self as #rt::model::ModelInfo>::summary()
            }
        }

        impl<E: #rt::Elem, D: #rt::Backend<E>> #rt::model::ModelInfo for #name<E, D> {
            const NAME: &'static str = #name_str;
            const INPUT_SHAPE: &'static [usize] = #input_lit;
            const OUTPUT_SHAPE: &'static [usize] = #output_lit;
            const PARAM_COUNT: usize = #param_count;
            const MACS: u64 = #macs;
            const LAYERS: &'static [#rt::model::LayerSummary] = &[#(#summaries),*];
        }

        impl<E: #rt::Elem, D: #rt::Backend<E>> #rt::model::Model<E, D> for #name<E, D> {
            type Input<B: #dfdx::shapes::Dim> = #model_in;
            type Output<B: #dfdx::shapes::Dim> = #model_out;
            fn input_shape<B: #dfdx::shapes::Dim>(batch: B) -> Self::Input<B> {
                #input_value
            }
            fn output_shape<B: #dfdx::shapes::Dim>(batch: B) -> Self::Output<B> {
                #output_value
            }
            #model_forwards
        }

        #forward_api

        #multi
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `src` and returns the code as a whitespace-free string.
    fn code(src: &str) -> String {
        let (ts, err) = expand_all(syn::parse_str(src).expect("test source lexes"));
        if let Some(e) = err {
            panic!("unexpected error: {e}");
        }
        ts.to_string().replace(' ', "")
    }

    const L: &str = "::sxima::__private::sxima_runtime::layers::";

    #[test]
    fn macs_total_every_product_of_the_model() {
        let c = code(
            "pub Cnn(input: [1, 8, 8]) {
                conv1: Conv2d(4, kernel = 3),
                ReLU,
                g: { Conv2d(2, kernel = 1, bias = false) },
                Flatten,
                fc: Dense(10),
            }",
        );
        let conv1 = 4 * 9 * 6 * 6;
        let conv2 = 2 * 4 * 6 * 6;
        let fc = 2 * 6 * 6 * 10;
        assert!(
            c.contains(&format!("constMACS:u64={};", conv1 + conv2 + fc)),
            "{c}"
        );
    }

    #[test]
    fn conv_and_pool_types_carry_every_size() {
        let c = code(
            "pub Cnn(input: [1, 28, 28]) {
                conv1: Conv2d(32, kernel = 5),
                MaxPool2d(2),
                c2: Conv2d(8, kernel = (3, 1), stride = 2, padding = same, dilation = (1, 2), groups = 4, bias = false),
                avg: AvgPool2d(3, stride = 1, padding = 1, count_include_pad = false),
                Flatten,
            }",
        );
        // CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO.
        assert!(
            c.contains(&format!(
                "{L}Conv2d<1,32,5,5,1,1,1,1,1,1,0,0,0,0,28,28,24,24,E,D>"
            )),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}MaxPool2d<2,2,2,2,0,0,0,0,24,24,12,12>")),
            "{c}"
        );
        // same, stride 2 on 12: out 6; H: total (5*2+3-12)=1 -> (0, 1); W: eff 1 -> (0, 0).
        assert!(
            c.contains(&format!(
                "{L}Conv2dNoBias<32,8,3,1,2,2,1,2,4,8,0,1,0,0,12,12,6,6,E,D>"
            )),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}AvgPool2d<3,3,1,1,1,1,1,1,6,6,6,6,false>")),
            "{c}"
        );
        assert!(c.contains(&format!("{L}Flatten<288>")), "{c}");
        // 32 * 25 + 32 and 8 * (32 / 4) * 3 * 1.
        assert!(c.contains("constPARAM_COUNT:usize=1024;"), "{c}");
        // Generated docs: struct (none written) and fields.
        assert!(
            c.contains("#[doc=\"Model`Cnn`:[1,28,28]->[288](generatedby`model!`).\"]"),
            "{c}"
        );
        assert!(
            c.contains("#[doc=\"`Conv2d(32,kernel=5)`:output[32,24,24];832parameters,460800multiply-accumulatespersample\"]pubconv1:"),
            "{c}"
        );
    }

    #[test]
    fn other_layer_types() {
        let c = code(
            "pub Up(input: [4, 7, 7]) {
                t: ConvTranspose2d(2, kernel = 4, stride = 2, padding = 1),
                z: ZeroPadding2d(((1, 0), (2, 3))),
                u: UpSampling2d((2, 1), mode = bilinear, align_corners = true),
                n: UpSampling2d(2),
                a: AdaptiveAvgPool2d((3, 2)),
                m: AdaptiveMaxPool2d(1),
                bn: BatchNorm2d,
                GlobalMaxPool,
                d: Dropout(0.5),
                lr: LeakyReLU,
                b1: BatchNorm1d,
            }",
        );
        assert!(
            c.contains(&format!(
                "{L}ConvTranspose2d<4,2,4,4,2,2,1,1,0,0,7,7,14,14,E,D>"
            )),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}ZeroPadding2d<1,0,2,3,14,14,15,19>")),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}UpSampling2dBilinear<2,1,15,19,30,19,true>")),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}UpSampling2d<2,2,30,19,60,38>")),
            "{c}"
        );
        assert!(
            c.contains(&format!("{L}AdaptiveAvgPool2d<60,38,3,2>")),
            "{c}"
        );
        assert!(c.contains(&format!("{L}AdaptiveMaxPool2d<3,2,1,1>")), "{c}");
        assert!(c.contains(&format!("{L}BatchNorm2d<2,E,D>")), "{c}");
        assert!(c.contains(&format!("{L}GlobalMaxPool")), "{c}");
        assert!(c.contains(&format!("{L}Dropout::new(0.5)")), "{c}");
        assert!(c.contains(&format!("{L}LeakyReLU::new(0.01)")), "{c}");
        assert!(c.contains(&format!("{L}BatchNorm1d<2,E,D>")), "{c}");
        // Visited (parameter) layers only: t, bn, b1.
        assert!(c.contains("Self::module(\"t\""), "{c}");
        assert!(c.contains("Self::module(\"bn\""), "{c}");
        assert!(!c.contains("Self::module(\"z\""), "{c}");
    }

    #[test]
    fn many_parameter_layers_nest_visitor_tuples() {
        let layers: Vec<String> = (0..14).map(|i| format!("d{i}: Dense(4)")).collect();
        let c = code(&format!("pub Deep(input: [4]) {{ {} }}", layers.join(", ")));
        // 14 fields -> ((6), (6), (2)) groups.
        assert!(
            c.contains("|((d0,d1,d2,d3,d4,d5,),(d6,d7,d8,d9,d10,d11,),(d12,d13,),)|"),
            "{c}"
        );
    }

    #[test]
    fn nested_models_get_const_checks_and_symbolic_param_counts() {
        let c = code("pub Outer(input: [8]) { enc: Encoder -> [4], Dense(2) }");
        assert!(c.contains("pubenc:Encoder<E,D>"), "{c}");
        assert!(
            c.contains(
                "constPARAM_COUNT:usize=10+<EncoderasModelInfo>::PARAM_COUNT"
                    .replace(
                        "ModelInfo",
                        "::sxima::__private::sxima_runtime::model::ModelInfo"
                    )
                    .as_str()
            ),
            "{c}"
        );
        assert!(c.contains("shapes_equal(<Encoderas::sxima::__private::sxima_runtime::model::ModelInfo>::INPUT_SHAPE,&[8])"), "{c}");
        assert!(c.contains("OUTPUT_SHAPE,&[4])"), "{c}");
    }

    #[test]
    fn nested_models_cross_their_boundary_through_the_runtime() {
        let c = code("pub Outer(input: [8]) { enc: Encoder -> [4], Dense(2) }");
        // In through the inner model's own input shape, out to the declared one:
        // a mismatch is left to the const assertions alone.
        assert!(
            c.contains("cross_boundary(x,<Encoder<E,D>as::sxima::__private::sxima_runtime::model::Model<E,D>>::input_shape(batch))?"),
            "{c}"
        );
        assert!(
            c.contains("cross_boundary(x,(batch,::sxima::__private::dfdx::shapes::Const,))?"),
            "{c}"
        );
        // Training: the inner model's penalty terms join the outer ones
        // under the field's name.
        assert!(
            c.contains("::try_forward_mut_penalized(&mutself.enc,x,&mut__inner)?;__p.extend_prefixed(\"enc\",__inner);"),
            "{c}"
        );
    }

    #[test]
    fn the_crate_path_comes_from_the_first_token_tree() {
        let src: TokenStream =
            syn::parse_str("[::nn] pub A(input: [3]) { fc: Dense(2) }").expect("lexes");
        let c = expand_with_crate(src).to_string().replace(' ', "");
        assert!(
            c.contains("::nn::__private::sxima_runtime::layers::Dense<3,2,E,D>"),
            "{c}"
        );
        assert!(
            c.contains("impl<E:::nn::__private::sxima_runtime::Elem"),
            "{c}"
        );
        assert!(!c.contains("::sxima::"), "{c}");
        // Without the bracketed path: a spanned error, not a panic.
        let bad: TokenStream = syn::parse_str("pub A(input: [3]) { fc: Dense(2) }").expect("lexes");
        let e = expand_with_crate(bad).to_string();
        assert!(e.contains("compile_error") && e.contains("internal"), "{e}");
    }

    #[test]
    fn user_derives_are_not_derived_twice() {
        let c = code("#[derive(Clone)] pub A(input: [3]) { fc: Dense(2) }");
        assert!(c.starts_with("#[derive(Clone)]"), "{c}");
        assert!(
            c.contains("#[derive(::core::fmt::Debug)]pubstructA<"),
            "{c}"
        );
        assert!(!c.contains("::core::clone::Clone"), "{c}");
    }

    #[test]
    fn parameterless_models_get_a_marker_field() {
        let c = code("pub Act(input: [3]) { ReLU }");
        assert!(
            c.contains("__sxima_marker:::core::marker::PhantomData<fn()->(E,D)>"),
            "{c}"
        );
        let c = code("pub Lin(input: [3]) { Dense(2) }");
        assert!(!c.contains("__sxima_marker"), "{c}");
    }

    #[test]
    fn good_models_expand_beside_bad_ones() {
        let (ts, err) = expand_all(
            syn::parse_str("pub A(input: [3]) { Dense(2) } pub B(input: [3]) { Dence(2) } pub C(input: [3]) { Relu }")
                .expect("lexes"),
        );
        let msgs: Vec<String> = err
            .expect("two errors")
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].contains("`Dence`; did you mean `Dense`"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("`Relu`; did you mean `ReLU`"), "{msgs:?}");
        assert!(ts.to_string().contains("struct A"));
    }
}
