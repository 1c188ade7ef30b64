//! What `SimpleRnn`, `Lstm` and `Gru` share in `model!`: their arguments
//! (`units`, `return_sequences = false`, `dropout = 0.0`, and `reset_after`
//! for `Gru`), the shape rule `[T, F] -> [T, units]` (every step) or
//! `[units]` (the last state), parameter and multiply-accumulate counts, and
//! the runtime type `Recurrent<F, H, cell, E, D, AllSteps | LastStep, ppm>`
//! (`sxima_runtime::layers::{SimpleRnn, Lstm, Gru}`). `Bidirectional`
//! ([`super::bidirectional`]) wraps the same spec.
//!
//! Parameters come out under PyTorch's names (`weight_ih_l0`, `weight_hh_l0`,
//! `bias_ih_l0`, `bias_hh_l0`, gates stacked), so a PyTorch state dict loads
//! by name into a field named like the PyTorch module.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Sp};
use super::common::{add, err, fmt_shape, lit, lit_bool, mul, DYN};
use super::{Cx, Emit, Inferred, LayerCode, Node};

/// The three recurrent cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Tanh,
    Lstm,
    /// `reset_after`: PyTorch's and Keras's form (`true`) or Cho et al.'s.
    Gru(bool),
}

impl Cell {
    /// Stacked gates `G` in the weights (`[G*H, ..]`).
    pub fn gates(self) -> u64 {
        match self {
            Cell::Tanh => 1,
            Cell::Lstm => 4,
            Cell::Gru(_) => 3,
        }
    }
}

/// `SimpleRnn` and `Lstm`: `units`, `return_sequences = false`, `dropout = 0.0`.
pub const ARGS: &[ArgSpec] = &[
    ArgSpec::required("units"),
    ArgSpec::named("return_sequences", "false"),
    ArgSpec::named("dropout", "0.0"),
];

/// `Gru`: [`ARGS`] and `reset_after = true`.
pub const GRU_ARGS: &[ArgSpec] = &[
    ArgSpec::required("units"),
    ArgSpec::named("return_sequences", "false"),
    ArgSpec::named("dropout", "0.0"),
    ArgSpec::named("reset_after", "true"),
];

/// A bound recurrent layer: every argument checked.
#[derive(Debug, Clone, Copy)]
pub struct RecurrentSpec {
    pub cell: Cell,
    pub units: Sp<u64>,
    pub return_sequences: bool,
    /// Input dropout in millionths (the runtime's `DROPOUT_PPM`).
    pub dropout_ppm: u32,
}

/// Binds the arguments of a recurrent layer with cell `cell` (the
/// `reset_after` of a `Gru` is read here).
pub fn spec(cell: Cell, b: &Bound<'_>) -> syn::Result<RecurrentSpec> {
    let units = b.req_uint("units")?;
    if units.v == 0 {
        return Err(err(
            units.span,
            format!("{}: units must be at least 1", b.label),
        ));
    }
    let p = b.float_or("dropout", 0.0)?;
    if !(0.0..1.0).contains(&p.v) {
        return Err(err(
            p.span,
            format!(
                "{}: the input dropout must be in [0, 1), got {}",
                b.label, p.v
            ),
        ));
    }
    let cell = match cell {
        Cell::Gru(_) => Cell::Gru(b.bool_or("reset_after", true)?),
        c => c,
    };
    Ok(RecurrentSpec {
        cell,
        units,
        return_sequences: b.bool_or("return_sequences", false)?,
        dropout_ppm: (p.v * 1e6).round() as u32,
    })
}

/// `[T, F]`, or a spanned error explaining what a recurrent layer reads.
pub fn sequence_input(input: &[u64], cx: &Cx<'_>) -> syn::Result<(u64, u64)> {
    let label = cx.label;
    match input {
        [t, f] if *f != DYN => Ok((*t, *f)),
        [_, _] => Err(err(
            cx.span,
            format!(
                "{label} needs a fixed feature size but gets {}; only the steps may be a run-time length",
                fmt_shape(input)
            ),
        )),
        [_] => Err(err(
            cx.span,
            format!(
                "{label} reads a sequence [steps, features] but gets a vector {}; if it comes from a recurrent layer, give that one `return_sequences = true`",
                fmt_shape(input)
            ),
        )),
        _ => Err(err(
            cx.span,
            format!(
                "{label} reads a sequence [steps, features] but gets {}; declare sequences as `input: [steps, features]`",
                fmt_shape(input)
            ),
        )),
    }
}

impl RecurrentSpec {
    /// Parameters of one direction: `G*H*(F + H) + 2*G*H`.
    pub fn params(&self, f: u64, label: &str) -> syn::Result<u64> {
        let s = self.units.span;
        let gh = mul(self.cell.gates(), self.units.v, s, label)?;
        let w = mul(gh, add(f, self.units.v, s, label)?, s, label)?;
        add(w, mul(2, gh, s, label)?, s, label)
    }

    /// Multiply-accumulates of one direction per sample: `T*G*H*(F + H)`
    /// (twice the recurrent product for `Gru(reset_after = false)`); per
    /// step when `T` is a run-time length.
    pub fn macs(&self, t: u64, f: u64, label: &str) -> syn::Result<u64> {
        let s = self.units.span;
        let h = self.units.v;
        let gh = mul(self.cell.gates(), h, s, label)?;
        let hh = if self.cell == Cell::Gru(false) {
            mul(2, h, s, label)?
        } else {
            h
        };
        let step = mul(gh, add(f, hh, s, label)?, s, label)?;
        mul(step, t.max(1), s, label)
    }

    /// The output shape for `[t, _]`: every step or the last state.
    pub fn output(&self, t: u64, width: u64) -> Vec<u64> {
        if self.return_sequences {
            vec![t, width]
        } else {
            vec![width]
        }
    }

    /// The runtime type for `f` input features.
    pub fn code(&self, f: u64) -> RecurrentCode {
        RecurrentCode {
            spec: *self,
            input: f,
        }
    }
}

impl Node for RecurrentSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let (t, f) = sequence_input(input, cx)?;
        Ok(Inferred {
            output: self.output(t, self.units.v),
            params: self.params(f, cx.label)?,
            macs: self.macs(t, f, cx.label)?,
            explain: None,
            code: Box::new(self.code(f)),
        })
    }
}

/// A resolved recurrent layer.
#[derive(Debug, Clone, Copy)]
pub struct RecurrentCode {
    spec: RecurrentSpec,
    input: u64,
}

impl RecurrentCode {
    /// The runtime type, e.g. `Lstm<28, 128, E, D, LastStep, 0>`.
    pub fn ty(&self, l: &TokenStream) -> TokenStream {
        let (i, h) = (lit(self.input), lit(self.spec.units.v));
        let mode = if self.spec.return_sequences {
            quote!(#l::AllSteps)
        } else {
            quote!(#l::LastStep)
        };
        let p = proc_macro2::Literal::u32_unsuffixed(self.spec.dropout_ppm);
        match self.spec.cell {
            Cell::Tanh => quote!(#l::SimpleRnn<#i, #h, E, D, #mode, #p>),
            Cell::Lstm => quote!(#l::Lstm<#i, #h, E, D, #mode, #p>),
            Cell::Gru(after) => {
                let a = lit_bool(after);
                quote!(#l::Gru<#i, #h, E, D, #mode, #p, #a>)
            }
        }
    }
}

impl Emit for RecurrentCode {
    fn emit(&self, l: &TokenStream) -> LayerCode {
        LayerCode::visited(self.ty(l))
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::DYN;
    use super::super::test_util::{code, infer, msg};

    #[test]
    fn shapes_params_and_code() {
        // LSTM 28 -> 128: 4 * 128 * (28 + 128) + 2 * 4 * 128.
        let i = infer("Lstm(128)", &[28, 28]).unwrap();
        assert_eq!(
            (i.output, i.params, i.macs),
            (vec![128], 80_896, 28 * 4 * 128 * 156)
        );
        let i = infer("SimpleRnn(8, return_sequences = true)", &[5, 3]).unwrap();
        assert_eq!((i.output, i.params), (vec![5, 8], 8 * 11 + 16));
        let i = infer("Gru(4, reset_after = false)", &[DYN, 2]).unwrap();
        assert_eq!((i.output, i.params), (vec![4], 3 * 4 * 6 + 24));
        // Per step for a run-time length; the extra recurrent product of Cho's form.
        assert_eq!(i.macs, 12 * (2 + 8));
        assert_eq!(
            code("Lstm(8, return_sequences = true, dropout = 0.25)", &[5, 3]),
            "L::Lstm<3,8,E,D,L::AllSteps,250000>"
        );
        assert_eq!(
            code("Gru(8, reset_after = false)", &[5, 3]),
            "L::Gru<3,8,E,D,L::LastStep,0,false>"
        );
        assert_eq!(
            code("SimpleRnn(2)", &[5, 3]),
            "L::SimpleRnn<3,2,E,D,L::LastStep,0>"
        );
    }

    #[test]
    fn errors() {
        assert!(msg("Lstm(8)", &[64]).contains("`return_sequences = true`"));
        assert!(msg("Lstm(8)", &[1, 28, 28]).contains("`input: [steps, features]`"));
        assert!(msg("Lstm(8)", &[5, DYN]).contains("fixed feature size"));
        assert!(msg("Lstm(0)", &[5, 3]).contains("units must be at least 1"));
        assert!(msg("Gru(8, dropout = 1.0)", &[5, 3]).contains("[0, 1)"));
        assert!(msg("Gru(8, reset_after = maybe)", &[5, 3]).contains("`true` or `false`"));
        assert!(msg("Lstm(hidden_size = 8)", &[5, 3]).contains("did you mean `units`"));
        let m = msg("Lstm(3, 8)", &[5, 3]);
        assert!(m.contains("`Lstm(8)`"), "{m}");
    }
}
