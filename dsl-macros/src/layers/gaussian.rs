//! `gaussian(kl_weight = 1.0) { mu { .. } logvar { .. } }`: the shape rule
//! of a VAE's Gaussian code.
//!
//! Both heads read the node's input and must give one shape, the code's.
//! Inference returns `mu`; the training forward returns `mu + exp(logvar /
//! 2) * eps` and pushes the KL divergence to `N(0, I)` as the term
//! `<name>.kl` (see `sxima_runtime::penalty::attach::gaussian_sample`). The
//! heads are planned by [`crate::plan`] as the fields `mu` and `logvar`.

use syn::Ident;

use super::common::fmt_shape;
use crate::clauses::{check_weight, number_args};
use crate::parse::{Args, Body};

/// Reads `gaussian(..)`'s one argument, `kl_weight` (default 1).
pub fn kl_weight(kw: &Ident, args: &Args) -> syn::Result<f64> {
    let args = (!args.list.is_empty()).then_some(args);
    let v = number_args("`gaussian`", kw.span(), args, &[("kl_weight", Some(1.0))])?;
    check_weight("`gaussian`", "kl_weight", v[0])
}

/// The `mu` and `logvar` branches, each written once, in either order.
pub fn heads<'a>(kw: &Ident, branches: &'a [(Ident, Body)]) -> syn::Result<[&'a (Ident, Body); 2]> {
    let usage = "write `gaussian { mu { .. } logvar { .. } }`";
    let mut mu = None;
    let mut logvar = None;
    for b in branches {
        let slot = match b.0.to_string().as_str() {
            "mu" => &mut mu,
            "logvar" => &mut logvar,
            other => {
                return Err(syn::Error::new(
                    b.0.span(),
                    format!(
                        "a `gaussian` code has the heads `mu` and `logvar`, not `{other}`: {usage}"
                    ),
                ))
            }
        };
        if slot.is_some() {
            return Err(syn::Error::new(
                b.0.span(),
                format!("the head `{}` is written twice", b.0),
            ));
        }
        if b.1.stmts.is_empty() {
            return Err(syn::Error::new(
                b.1.span,
                format!("the head `{}` needs at least one layer", b.0),
            ));
        }
        *slot = Some(b);
    }
    match (mu, logvar) {
        (Some(m), Some(l)) => Ok([m, l]),
        (None, _) => Err(syn::Error::new(
            kw.span(),
            format!("this `gaussian` has no `mu` head: {usage}"),
        )),
        (_, None) => Err(syn::Error::new(
            kw.span(),
            format!("this `gaussian` has no `logvar` head: {usage}"),
        )),
    }
}

/// Both heads must give the code's shape; a mismatch is an error on the
/// `logvar` head.
pub fn check_heads(logvar: &Ident, mu_out: &[u64], logvar_out: &[u64]) -> syn::Result<()> {
    if mu_out == logvar_out {
        return Ok(());
    }
    Err(syn::Error::new(
        logvar.span(),
        format!(
            "gaussian: the `logvar` head gives {} but the `mu` head gives {}; both must give the code's shape",
            fmt_shape(logvar_out),
            fmt_shape(mu_out)
        ),
    ))
}
