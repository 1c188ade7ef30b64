//! `GlobalAvgPool` and `GlobalMaxPool`: `[C, H, W] -> [C]`, the mean or
//! maximum of each channel (Keras `GlobalAveragePooling2D`), no parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound};
use super::window::expect_chw;
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// `GlobalMaxPool` when `avg` is false, else `GlobalAvgPool`.
#[derive(Debug, Clone, Copy)]
pub struct GlobalPool {
    avg: bool,
}

pub const DOC: &str = "| `GlobalAvgPool`, `GlobalMaxPool` | | `[C, H, W] -> [C]` |";

pub const GLOBAL_AVG: GlobalPool = GlobalPool { avg: true };
pub const GLOBAL_MAX: GlobalPool = GlobalPool { avg: false };

impl LayerKind for GlobalPool {
    fn name(&self) -> &'static str {
        if self.avg {
            "GlobalAvgPool"
        } else {
            "GlobalMaxPool"
        }
    }
    fn snake(&self) -> &'static str {
        if self.avg {
            "global_avg_pool"
        } else {
            "global_max_pool"
        }
    }
    fn args(&self) -> &'static [ArgSpec] {
        &[]
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, _: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(*self))
    }
}

impl Node for GlobalPool {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (c, _) = expect_chw(input, cx.span, cx.label)?;
        Ok(Inferred::plain(vec![c], *self))
    }
}

impl Emit for GlobalPool {
    /// Runtime: unit structs `GlobalAvgPool` / `GlobalMaxPool`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        LayerCode::default_call(if self.avg {
            quote!(#l::GlobalAvgPool)
        } else {
            quote!(#l::GlobalMaxPool)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn pools_each_channel() {
        assert_eq!(out("GlobalAvgPool", &[512, 7, 7]), vec![512]);
        assert_eq!(out("GlobalMaxPool", &[512, 7, 7]), vec![512]);
        assert!(code("GlobalMaxPool", &[2, 3, 3]).starts_with("L::GlobalMaxPool"));
        assert!(msg("GlobalAvgPool", &[512]).contains("[channels, height, width]"));
    }
}
