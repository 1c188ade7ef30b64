//! Where the generated code finds sxima: the crate path every emitted path
//! starts with.
//!
//! The facade's `model!` is a `macro_rules!` that passes `$crate` to the
//! proc-macro (`__model! { [$crate] .. }`), so a renamed dependency
//! (`nn = { package = "sxima", .. }`) still resolves. [`with_crate`] sets the
//! path for the duration of one expansion; [`dfdx`], [`rt`] and [`layers`]
//! read it, so per-layer code never writes `::sxima` itself. Outside
//! [`with_crate`] (unit tests calling `expand_all`) the path is `::sxima`.

use std::cell::RefCell;

use proc_macro2::TokenStream;
use quote::quote;

thread_local! {
    static KRATE: RefCell<Option<TokenStream>> = const { RefCell::new(None) };
}

/// Runs `f` with `krate` (e.g. the `$crate` token) as the path of the facade
/// crate, restoring the previous path afterwards (also when `f` unwinds).
pub fn with_crate<R>(krate: TokenStream, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<TokenStream>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            KRATE.with(|k| *k.borrow_mut() = prev);
        }
    }
    let prev = KRATE.with(|k| k.borrow_mut().replace(krate));
    let _restore = Restore(prev);
    f()
}

/// The facade crate: `$crate` inside an expansion, `::sxima` otherwise.
pub fn krate() -> TokenStream {
    KRATE.with(|k| k.borrow().clone().unwrap_or_else(|| quote!(::sxima)))
}

/// `<sxima>::__private::dfdx`.
pub fn dfdx() -> TokenStream {
    let k = krate();
    quote!(#k::__private::dfdx)
}

/// `<sxima>::__private::sxima_runtime`.
pub fn rt() -> TokenStream {
    let k = krate();
    quote!(#k::__private::sxima_runtime)
}

/// `<sxima>::__private::sxima_runtime::layers`.
pub fn layers() -> TokenStream {
    let rt = rt();
    quote!(#rt::layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_sxima_and_with_crate_scopes_the_path() {
        assert_eq!(
            rt().to_string(),
            quote!(::sxima::__private::sxima_runtime).to_string()
        );
        let inner = with_crate(quote!(::nn), || {
            let outer = dfdx().to_string();
            let nested = with_crate(quote!(crate), layers);
            (outer, nested.to_string(), rt().to_string())
        });
        assert_eq!(inner.0, quote!(::nn::__private::dfdx).to_string());
        assert_eq!(
            inner.1,
            quote!(crate::__private::sxima_runtime::layers).to_string()
        );
        assert_eq!(inner.2, quote!(::nn::__private::sxima_runtime).to_string());
        assert_eq!(krate().to_string(), quote!(::sxima).to_string());
    }
}
