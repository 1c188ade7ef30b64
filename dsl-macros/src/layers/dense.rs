//! `Dense(units, bias = true)`: a fully connected layer, `[I] -> [units]`
//! (PyTorch `nn.Linear(I, units)`; the input features are inferred). On a
//! sequence `[T, I]` it is applied at every step: `[T, units]`.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Sp};
use super::common::{add, err, fmt_shape, lit, mul, DYN};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct Dense;

pub const DOC: &str =
    "| `Dense` | `units`, `bias = true` | `[I] -> [units]`; per step on a sequence: `[T, I] -> [T, units]` |";

const ARGS: &[ArgSpec] = &[ArgSpec::required("units"), ArgSpec::named("bias", "true")];

impl LayerKind for Dense {
    fn name(&self) -> &'static str {
        "Dense"
    }
    fn snake(&self) -> &'static str {
        "dense"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn inferred_input(&self) -> Option<&'static str> {
        Some("input features")
    }
    fn any_length(&self) -> bool {
        true
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(DenseSpec {
            units: b.req_uint("units")?,
            bias: b.bool_or("bias", true)?,
        }))
    }
}

#[derive(Debug)]
struct DenseSpec {
    units: Sp<u64>,
    bias: bool,
}

impl Node for DenseSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let label = cx.label;
        let (steps, i) = match input {
            [i] => (None, i),
            [t, i] if *i != DYN => (Some(*t), i),
            _ => {
                let hint = if input.len() > 1 {
                    "; add Flatten before it"
                } else {
                    ""
                };
                return Err(err(
                    cx.span,
                    format!(
                        "{label} expects [features] (or a sequence [steps, features]) but got {}{hint}",
                        fmt_shape(input)
                    ),
                ));
            }
        };
        let units = self.units;
        if units.v == 0 {
            return Err(err(
                units.span,
                format!("{label}: units must be at least 1"),
            ));
        }
        let weights = mul(*i, units.v, units.span, label)?;
        let params = if self.bias {
            add(weights, units.v, units.span, label)?
        } else {
            weights
        };
        // Per sample; per step for a run-time length.
        let macs = mul(weights, steps.unwrap_or(1).max(1), units.span, label)?;
        Ok(Inferred {
            output: match steps {
                Some(t) => vec![t, units.v],
                None => vec![units.v],
            },
            params,
            macs,
            explain: None,
            code: Box::new(DenseCode {
                i: *i,
                o: units.v,
                bias: self.bias,
            }),
        })
    }
}

#[derive(Debug)]
struct DenseCode {
    i: u64,
    o: u64,
    bias: bool,
}

impl Emit for DenseCode {
    /// Runtime order: `Dense<I, O, E, D>` / `DenseNoBias<I, O, E, D>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let (i, o) = (lit(self.i), lit(self.o));
        LayerCode::visited(if self.bias {
            quote!(#l::Dense<#i, #o, E, D>)
        } else {
            quote!(#l::DenseNoBias<#i, #o, E, D>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{code, infer, msg};

    #[test]
    fn shapes_params_and_code() {
        let i = infer("Dense(256)", &[784]).unwrap();
        assert_eq!(
            (i.output, i.params, i.macs),
            (vec![256], 784 * 256 + 256, 784 * 256)
        );
        assert_eq!(
            infer("Dense(10, bias = false)", &[128]).unwrap().params,
            1280
        );
        assert_eq!(code("Dense(3)", &[5]), "L::Dense<5,3,E,D>");
        assert_eq!(
            code("Dense(3, bias = false)", &[5]),
            "L::DenseNoBias<5,3,E,D>"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            msg("Dense(10)", &[64, 8, 8]),
            "l: X expects [features] (or a sequence [steps, features]) but got [64, 8, 8]; add Flatten before it"
        );
        assert!(msg("Dense(0)", &[8]).contains("units must be at least 1"));
        assert!(msg("Dense(18446744073709551615)", &[18446744073709551615]).contains("too large"));
        let m = msg("Dense(784, 128)", &[784]);
        assert!(
            m.contains("the input features (784) are inferred") && m.contains("`Dense(128)`"),
            "{m}"
        );
        assert!(msg("Dense(64, out_features = 3)", &[8]).contains("did you mean `units`"));
        assert!(msg("Dense(64, in_features = 8)", &[8]).contains("infers it from the input"));
        assert!(msg("Dense(64, activation = relu)", &[8]).contains("its own layer"));
    }
}
