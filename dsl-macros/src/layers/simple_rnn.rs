//! `SimpleRnn(units, return_sequences = false, dropout = 0.0)`: the Elman
//! network `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)` (PyTorch
//! `nn.RNN`), `[T, F] -> [units]` or every step `[T, units]`; shared rules in
//! [`super::recurrent`].

use super::args::{ArgSpec, Bound};
use super::recurrent::{spec, Cell, ARGS};
use super::{LayerKind, Node};

pub struct SimpleRnn;

pub const DOC: &str = "| `SimpleRnn`, `Lstm`, `Gru` | `units`, `return_sequences = false`, `dropout = 0.0` (input connections), `reset_after = true` (`Gru`) | `[T, F] -> [units]`, or `[T, units]` with `return_sequences = true` |";

impl LayerKind for SimpleRnn {
    fn name(&self) -> &'static str {
        "SimpleRnn"
    }
    fn snake(&self) -> &'static str {
        "rnn"
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
        Ok(Box::new(spec(Cell::Tanh, b)?))
    }
}
