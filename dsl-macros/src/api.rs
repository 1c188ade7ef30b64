//! The generated model's user-facing API, apart from its layers: the derives
//! on the struct, the `Forward` impl with the per-model input diagnostic, the
//! inherent `forward` family, and the forwards of the `Model` impl.
//!
//! A wrong tensor passed to `forward` fails on one bound, `X: NetInput<E, D>`,
//! a trait emitted per model (inside a `const _` block, so it takes no name in
//! the user's module) whose `#[diagnostic::on_unimplemented]` message names
//! the shape the model takes: `` `Net` takes a batch of shape (batch, 784) ``.
//! The bound is on the input type, not `Self: NetInput<X>`: with a single
//! impl, rustc would infer `X` from it before looking at the argument and
//! report a long `E0308` type mismatch instead.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Path, Token};

use crate::expand::{input_elem, tensor_shape};
use crate::layers::common::{dims_of, is_tokens, DYN};
use crate::paths;

/// Which of the derives the macro writes (`Debug`, `Clone`) the user already
/// wrote in a `#[derive(..)]` on the model: `(debug, clone)`.
fn user_derives(attrs: &[Attribute]) -> (bool, bool) {
    let (mut debug, mut clone) = (false, false);
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        // A malformed derive is left to rustc, which reports it on the user's tokens.
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for p in paths {
            match p.segments.last().map(|s| s.ident.to_string()).as_deref() {
                Some("Debug") => debug = true,
                Some("Clone") => clone = true,
                _ => {}
            }
        }
    }
    (debug, clone)
}

/// The `#[derive(..)]` the macro puts on the struct: `Debug` and `Clone`,
/// less those the user derives already (a second derive of the same trait
/// would be a conflicting-impl error pointing at the macro).
pub fn derives(attrs: &[Attribute]) -> TokenStream {
    let (debug, clone) = user_derives(attrs);
    let mut list = Vec::new();
    if !debug {
        list.push(quote!(::core::fmt::Debug));
    }
    if !clone {
        list.push(quote!(::core::clone::Clone));
    }
    if list.is_empty() {
        quote!()
    } else {
        quote!(#[derive(#(#list),*)])
    }
}

/// `ts` with every token located at `at` (hygiene and `$crate` kept), so
/// that rustc's notes about these items quote the model's name.
fn respan(ts: TokenStream, at: Span) -> TokenStream {
    ts.into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut out = Group::new(g.delimiter(), respan(g.stream(), at));
                out.set_span(g.span().located_at(at));
                TokenTree::Group(out)
            }
            TokenTree::Ident(i) if i == "$crate" => TokenTree::Ident(i),
            mut other => {
                other.set_span(other.span().located_at(at));
                other
            }
        })
        .collect()
}

/// `(batch, 1, 28, 28)`: how diagnostics write a batch of per-sample `dims`
/// (`_` for a run-time dim, `token ids (batch, 35)` for tokens).
fn batch_shape_text(dims: &[u64]) -> String {
    let d: Vec<String> = dims_of(dims)
        .iter()
        .map(|&v| if v == DYN { "_".into() } else { v.to_string() })
        .collect();
    let what = if is_tokens(dims) { "token ids " } else { "" };
    format!("{what}(batch, {})", d.join(", "))
}

/// `check_tokens::<V>(..)?` before a token model's forward (nothing for other models).
fn token_check(vocab: Option<u64>) -> TokenStream {
    let rt = paths::rt();
    match vocab {
        Some(v) => {
            let v = proc_macro2::Literal::u64_unsuffixed(v);
            quote!(#rt::layers::check_tokens::<#v>(&x.as_vec())?;)
        }
        None => quote!(),
    }
}

/// `Forward` for the model's batch tensor, the per-model input trait and the
/// inherent `forward`, `try_forward`, `forward_mut`, `try_forward_mut`.
pub fn forward_api(name: &Ident, input: &[u64], output: &[u64], vocab: Option<u64>) -> TokenStream {
    let dfdx = paths::dfdx();
    let rt = paths::rt();
    let (in_shape, out_shape) = (tensor_shape(input), tensor_shape(output));
    let in_elem = input_elem(input);
    let check = token_check(vocab);
    let tensor = quote!(#dfdx::tensor::Tensor);
    let bounds = quote!(B: #dfdx::shapes::Dim, E: #rt::Elem, D: #rt::Backend<E>, T: #dfdx::tensor::Tape<E, D>);
    // All of it is located at the model's name, so rustc's notes on these
    // impls and bounds quote one line, not the whole macro.
    let at = Span::call_site().located_at(name.span());
    let takes = format_ident!("{name}Input", span = at);
    let shape = batch_shape_text(input);
    let message = format!("`{name}` takes a batch of shape {shape}");
    let consts: Vec<String> = dims_of(input)
        .iter()
        .map(|&d| {
            if d == DYN {
                "usize".into()
            } else {
                format!("Const<{d}>")
            }
        })
        .collect();
    // `{E}` / `{D}` are filled in by rustc with the model's element type and device.
    let elem = if is_tokens(input) { "usize" } else { "{E}" };
    let label = format!("expected a batch of shape {shape} of `{elem}` on `{{D}}`");
    let note = format!(
        "the batch axis comes first: `Tensor<(B, {}), {elem}, {{D}}>`, `B` a `Const<N>` or `usize`",
        consts.join(", ")
    );
    let doc_in = format!("`x`: a batch of shape {shape} (any batch size, with or without a tape).");
    let doc_out = format!("Returns a batch of shape {}.", batch_shape_text(output));
    let located = respan(
        quote! {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            pub trait #takes<E: #rt::Elem, D: #rt::Backend<E>>: ::core::marker::Sized {
                type Output;
                fn run(net: &#name<E, D>, x: Self) -> #rt::Result<Self::Output>;
                fn run_mut(net: &mut #name<E, D>, x: Self) -> #rt::Result<Self::Output>;
            }

            impl<#bounds> #takes<E, D> for #tensor<#in_shape, #in_elem, D, T> {
                type Output = #tensor<#out_shape, E, D, T>;
                fn run(net: &#name<E, D>, x: Self) -> #rt::Result<Self::Output> {
                    <#name<E, D> as #rt::Forward<Self>>::try_forward(net, x)
                }
                fn run_mut(net: &mut #name<E, D>, x: Self) -> #rt::Result<Self::Output> {
                    <#name<E, D> as #rt::Forward<Self>>::try_forward_mut(net, x)
                }
            }

            impl<E: #rt::Elem, D: #rt::Backend<E>> #name<E, D> {
                /// Inference forward (dropout off, batch norm on its running statistics).
                #[doc = #doc_in]
                #[doc = #doc_out]
                ///
                /// # Panics
                /// On a device error (out of memory), as dfdx's `forward`; see `try_forward`.
                pub fn forward<X: #takes<E, D>>(&self, x: X) -> X::Output {
                    match X::run(self, x) {
                        ::core::result::Result::Ok(y) => y,
                        ::core::result::Result::Err(e) => ::core::panic!("{}", e),
                    }
                }

                /// Inference forward; errors on a device error.
                #[doc = #doc_in]
                pub fn try_forward<X: #takes<E, D>>(&self, x: X) -> #rt::Result<X::Output> {
                    X::run(self, x)
                }

                /// Training forward (dropout on, batch-norm statistics updated);
                /// trace the input (`x.traced(grads)`) to record gradients.
                #[doc = #doc_in]
                ///
                /// # Panics
                /// On a device error (out of memory), as dfdx's `forward_mut`; see `try_forward_mut`.
                pub fn forward_mut<X: #takes<E, D>>(&mut self, x: X) -> X::Output {
                    match X::run_mut(self, x) {
                        ::core::result::Result::Ok(y) => y,
                        ::core::result::Result::Err(e) => ::core::panic!("{}", e),
                    }
                }

                /// Training forward; errors on a device error.
                #[doc = #doc_in]
                pub fn try_forward_mut<X: #takes<E, D>>(&mut self, x: X) -> #rt::Result<X::Output> {
                    X::run_mut(self, x)
                }
            }
        },
        at,
    );
    let forward_impl = quote! {
        impl<#bounds> #rt::Forward<#tensor<#in_shape, #in_elem, D, T>> for #name<E, D> {
            type Output = #tensor<#out_shape, E, D, T>;
            fn try_forward(
                &self,
                x: #tensor<#in_shape, #in_elem, D, T>,
            ) -> #rt::Result<Self::Output> {
                #check
                #rt::error::DeviceResultExt::dev(#dfdx::nn::Module::try_forward(self, x))
            }
            fn try_forward_mut(
                &mut self,
                x: #tensor<#in_shape, #in_elem, D, T>,
            ) -> #rt::Result<Self::Output> {
                #check
                self.__sxima_train(x, ::core::option::Option::None)
            }
        }
    };
    let forward_impl = respan(forward_impl, at);
    quote! {
        #forward_impl
        const _: () = { #located };
    }
}

/// For a token model, the conversion of the `Model` forwards' float ids to
/// checked token ids ([`sxima_runtime::input::tokens_from_floats`]); nothing
/// for other models.
pub fn token_ids(vocab: Option<u64>) -> TokenStream {
    let rt = paths::rt();
    match vocab {
        Some(v) => {
            let v = proc_macro2::Literal::u64_unsuffixed(v);
            quote!(let x = #rt::input::tokens_from_floats::<#v, _, E, D, T>(x)?;)
        }
        None => quote!(),
    }
}

/// The forwards of the `Model` impl (the bound generic code writes), over the
/// model's own `Input<B>` / `Output<B>` shapes. A token model takes its ids
/// there as whole numbers of `E` (as a `Dataset` holds them) and checks them
/// ([`sxima_runtime::input::tokens_from_floats`]) before the lookup.
pub fn model_forwards(vocab: Option<u64>) -> TokenStream {
    let dfdx = paths::dfdx();
    let rt = paths::rt();
    let tensor = quote!(#dfdx::tensor::Tensor);
    let ids = token_ids(vocab);
    quote! {
        fn try_forward<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>>(
            &self,
            x: #tensor<Self::Input<B>, E, D, T>,
        ) -> #rt::Result<#tensor<Self::Output<B>, E, D, T>> {
            #ids
            #rt::error::DeviceResultExt::dev(#dfdx::nn::Module::try_forward(self, x))
        }
        fn try_forward_mut<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>>(
            &mut self,
            x: #tensor<Self::Input<B>, E, D, T>,
        ) -> #rt::Result<#tensor<Self::Output<B>, E, D, T>> {
            #ids
            self.__sxima_train(x, ::core::option::Option::None)
        }
        fn try_forward_mut_penalized<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>>(
            &mut self,
            x: #tensor<Self::Input<B>, E, D, T>,
            penalties: &mut #rt::penalty::Penalties<E, D, T>,
        ) -> #rt::Result<#tensor<Self::Output<B>, E, D, T>> {
            #ids
            self.__sxima_train(x, ::core::option::Option::Some(penalties))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(src: &str) -> Vec<Attribute> {
        let item: syn::ItemStruct = syn::parse_str(&format!("{src} struct S;")).expect("parses");
        item.attrs
    }

    #[test]
    fn user_derives_suppress_the_generated_ones() {
        let all = derives(&[]).to_string().replace(' ', "");
        assert_eq!(all, "#[derive(::core::fmt::Debug,::core::clone::Clone)]");
        let d = derives(&attrs("#[derive(Debug)]"))
            .to_string()
            .replace(' ', "");
        assert_eq!(d, "#[derive(::core::clone::Clone)]");
        let d = derives(&attrs("/// doc\n#[derive(PartialEq, core::clone::Clone)]"))
            .to_string()
            .replace(' ', "");
        assert_eq!(d, "#[derive(::core::fmt::Debug)]");
        let d = derives(&attrs("#[derive(Clone)] #[derive(std::fmt::Debug)]"));
        assert!(d.is_empty(), "{d}");
        // Not a derive, or a malformed one: the generated derives stay.
        let d = derives(&attrs("#[allow(Debug)] #[derive(= Clone)]")).to_string();
        assert!(d.contains("Debug") && d.contains("Clone"), "{d}");
    }

    #[test]
    fn input_diagnostic_names_the_shape() {
        let name: Ident = syn::parse_str("Net").expect("ident");
        let code = forward_api(&name, &[1, 28, 28], &[10], None).to_string();
        assert!(
            code.contains("`Net` takes a batch of shape (batch, 1, 28, 28)"),
            "{code}"
        );
        assert!(code.contains("pub trait NetInput < E"), "{code}");
        assert!(
            code.contains("Returns a batch of shape (batch, 10)."),
            "{code}"
        );
    }
}
