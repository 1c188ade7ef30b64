//! Element-wise activations without arguments (`ReLU`, `Sigmoid`, `Tanh`,
//! `Softmax`, `LogSoftmax`, `GELU`, `SiLU`): any shape, no parameters.
//! `Softmax` and `LogSoftmax` act on the last axis.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::args::{ArgSpec, Bound};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

/// One activation: its `model!` name, field prefix and runtime type.
#[derive(Debug, Clone, Copy)]
pub struct Activation {
    name: &'static str,
    snake: &'static str,
    runtime: &'static str,
}

pub const DOC: &str =
    "| `ReLU`, `Sigmoid`, `Tanh`, `Softmax`, `LogSoftmax`, `GELU`, `SiLU` | | any |";

const fn act(name: &'static str, snake: &'static str, runtime: &'static str) -> Activation {
    Activation {
        name,
        snake,
        runtime,
    }
}

pub const RELU: Activation = act("ReLU", "relu", "ReLU");
pub const SIGMOID: Activation = act("Sigmoid", "sigmoid", "Sigmoid");
pub const TANH: Activation = act("Tanh", "tanh", "Tanh");
pub const SOFTMAX: Activation = act("Softmax", "softmax", "Softmax");
pub const LOG_SOFTMAX: Activation = act("LogSoftmax", "log_softmax", "LogSoftmax");
pub const GELU: Activation = act("GELU", "gelu", "GeLU");
pub const SILU: Activation = act("SiLU", "silu", "SiLU");

impl LayerKind for Activation {
    fn name(&self) -> &'static str {
        self.name
    }
    fn snake(&self) -> &'static str {
        self.snake
    }
    fn args(&self) -> &'static [ArgSpec] {
        &[]
    }
    fn any_length(&self) -> bool {
        true
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, _: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(*self))
    }
}

impl Node for Activation {
    fn infer(&self, input: &[u64], _: &Cx<'_>) -> syn::Result<Inferred> {
        Ok(Inferred::plain(input.to_vec(), *self))
    }
}

impl Emit for Activation {
    /// Runtime: a unit struct, built by `Default`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let name = format_ident!("{}", self.runtime);
        LayerCode::default_call(quote!(#l::#name))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, msg, out};

    #[test]
    fn any_shape_no_arguments() {
        assert_eq!(out("ReLU", &[3, 4, 5]), vec![3, 4, 5]);
        assert_eq!(
            code("GELU", &[3]),
            "L::GeLU::core::default::Default::default()"
        );
        assert!(msg("ReLU(2)", &[3]).contains("l: X takes no arguments"));
    }
}
