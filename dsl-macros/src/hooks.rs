//! Code for the clauses of [`crate::clauses`]: the penalty pushes the
//! model's training forward makes after its top-level layers, and the
//! `<Model>Outputs` struct with the `MultiOutput` impl that captures the
//! declared outputs.
//!
//! A captured output is a fork of the layer's output (same data and id, an
//! empty tape). In the training form the forward's whole tape is moved at
//! the end onto the model's final output when it is declared, else onto the
//! first declared output, so a loss over the outputs sees every operation.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use crate::clauses::{Head, Penalty, PenaltyKind, Resolved};
use crate::expand::{steps_code, tensor_shape, Fwd};
use crate::layers::common::fmt_shape;
use crate::paths;
use crate::plan::{ModelPlan, Scope};

/// The pushes after top-level field `i` (training forwards only).
pub fn penalty_code(resolved: &Resolved, i: usize, fwd: Fwd) -> TokenStream {
    if !fwd.mutable {
        return TokenStream::new();
    }
    let rt = paths::rt();
    let attach = quote!(#rt::penalty::attach);
    let pushes = resolved
        .penalties
        .iter()
        .filter(|(after, _)| *after == i)
        .map(|(_, Penalty { name, weight, kind })| {
            let value = match kind {
                PenaltyKind::ActivityL1 => quote!(#attach::activity_l1_on(&x)?),
                PenaltyKind::SparsityKl { rho } => {
                    let rho = Literal::f64_suffixed(*rho);
                    quote!(#attach::sparsity_kl_on(&x, #rho)?)
                }
                PenaltyKind::Contractive { dense } => {
                    quote!(#attach::contractive_on(&x, &self.#dense.weight)?)
                }
            };
            let weight = Literal::f64_suffixed(*weight);
            quote!(__p.push(#name, #weight, #value);)
        })
        .collect::<Vec<_>>();
    if pushes.is_empty() {
        return TokenStream::new();
    }
    quote! {
        if let ::core::option::Option::Some(__p) = __pen.as_deref_mut() {
            #(#pushes)*
        }
    }
}

fn out_var(name: &Ident) -> Ident {
    format_ident!("__out_{}", name)
}

/// A top-level field's step with its penalty pushes and the captures of
/// the outputs it gives.
fn capturing_step(
    resolved: &Resolved,
    root: &Scope,
    i: usize,
    code: TokenStream,
    fwd: Fwd,
) -> TokenStream {
    let dfdx = paths::dfdx();
    let rt = paths::rt();
    let fork = quote!(#rt::layers::merge::fork);
    let mine: Vec<_> = resolved.outputs.iter().filter(|o| o.field == i).collect();
    let heads = mine.iter().any(|o| o.head.is_some());
    let head_var = |h: Head| {
        mine.iter()
            .filter(|o| o.head == Some(h))
            .map(|o| out_var(&o.name))
            .collect::<Vec<_>>()
    };
    let (mus, lvs) = (head_var(Head::Mu), head_var(Head::LogVar));
    let field = &root.fields[i];
    let f = &field.field;
    let mut out = if !heads {
        code
    } else if fwd.mutable {
        let shape = tensor_shape(&field.output);
        quote! {
            let __g = self.#f.__sxima_gaussian(x, __pen.as_deref_mut())?;
            let x: #dfdx::tensor::Tensor<#shape, E, D, T> = __g.z;
            #(let #mus = #fork(&__g.mu);)*
            #(let #lvs = #fork(&__g.logvar);)*
        }
    } else {
        let lv = fwd.q(quote!(#dfdx::nn::Module::try_forward(&self.#f.logvar, #fork(&x))));
        quote! {
            let __logvar = #lv;
            #(let #lvs = #fork(&__logvar);)*
            #code
            #(let #mus = #fork(&x);)*
        }
    };
    for o in mine.iter().filter(|o| o.head.is_none()) {
        let v = out_var(&o.name);
        out.extend(quote!(let #v = #fork(&x);));
    }
    out.extend(penalty_code(resolved, i, fwd));
    out
}

/// `<Model>Outputs` and `impl MultiOutput` (nothing without `outputs(..)`).
pub fn multi_output(plan: &ModelPlan<'_>, resolved: &Resolved, ids: &TokenStream) -> TokenStream {
    if resolved.outputs.is_empty() {
        return TokenStream::new();
    }
    let dfdx = paths::dfdx();
    let rt = paths::rt();
    let tensor = quote!(#dfdx::tensor::Tensor);
    let name = &plan.def.name;
    let vis = &plan.def.vis;
    let root = &plan.root;
    let outputs = format_ident!("{}Outputs", name, span = name.span());
    let names: Vec<&Ident> = resolved.outputs.iter().map(|o| &o.name).collect();
    let vars: Vec<Ident> = resolved.outputs.iter().map(|o| out_var(&o.name)).collect();
    let tys: Vec<TokenStream> = resolved
        .outputs
        .iter()
        .map(|o| {
            let s = tensor_shape(&o.shape);
            quote!(#tensor<#s, E, D, T>)
        })
        .collect();
    let docs: Vec<String> = resolved
        .outputs
        .iter()
        .map(|o| {
            format!(
                "`{}`: a batch of {} per sample.",
                o.path,
                fmt_shape(&o.shape)
            )
        })
        .collect();
    let struct_doc = format!(
        "The outputs of model `{name}`, {} (generated by `model!` from `outputs(..)`). \
         In the training form each output carries an empty tape of its own and the forward's \
         tape is held by the `Penalties` collector: build the loss from any outputs, then \
         `penalties.attach_tape(loss)` before `backward` (`fit_outputs` does).",
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut counter = 1_000_000;
    let hook_infer =
        |i: usize, code: TokenStream, fwd: Fwd| capturing_step(resolved, root, i, code, fwd);
    let infer = steps_code(
        root,
        &root.steps,
        Fwd {
            mutable: false,
            rt: true,
        },
        &mut counter,
        Some(&hook_infer),
    );
    let train = steps_code(
        root,
        &root.steps,
        Fwd::TRAIN,
        &mut counter,
        Some(&hook_infer),
    );
    let bounds = quote!(B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>);
    quote! {
        #[doc = #struct_doc]
        #vis struct #outputs<B: #dfdx::shapes::Dim, E: #dfdx::shapes::Dtype, D: #dfdx::tensor::Storage<E>, T> {
            #(#[doc = #docs] pub #names: #tys,)*
        }

        impl<E: #rt::Elem, D: #rt::Backend<E>> #rt::outputs::MultiOutput<E, D> for #name<E, D> {
            type Outputs<B: #dfdx::shapes::Dim, T: #dfdx::tensor::Tape<E, D>> = #outputs<B, E, D, T>;

            #[allow(clippy::type_complexity)]
            fn try_forward_outputs<#bounds>(
                &self,
                x: #tensor<<Self as #rt::model::Model<E, D>>::Input<B>, E, D, T>,
            ) -> #rt::Result<Self::Outputs<B, T>> {
                #ids
                #infer
                let _ = x;
                ::core::result::Result::Ok(#outputs { #(#names: #vars,)* })
            }

            #[allow(unused_mut, unused_variables, clippy::type_complexity)]
            fn try_forward_outputs_mut<#bounds>(
                &mut self,
                x: #tensor<<Self as #rt::model::Model<E, D>>::Input<B>, E, D, T>,
                penalties: &mut #rt::penalty::Penalties<E, D, T>,
            ) -> #rt::Result<Self::Outputs<B, T>> {
                #ids
                let mut __pen = ::core::option::Option::Some(penalties);
                #train
                // Every output carries an empty tape of its own; the
                // forward's operations wait in the collector for the loss.
                let (_, __tape) = #dfdx::tensor::SplitTape::split_tape(x);
                if let ::core::option::Option::Some(__p) = __pen {
                    __p.hold_tape(__tape);
                }
                ::core::result::Result::Ok(#outputs { #(#names: #vars,)* })
            }
        }
    }
}
