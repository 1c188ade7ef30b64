//! `Lstm(units, return_sequences = false, dropout = 0.0)`: long short-term
//! memory (PyTorch `nn.LSTM`, Keras `LSTM`), `[T, F] -> [units]` or every step
//! `[T, units]`; shared rules in [`super::recurrent`].

use super::args::{ArgSpec, Bound};
use super::recurrent::{spec, Cell, ARGS};
use super::{LayerKind, Node};

pub struct Lstm;

impl LayerKind for Lstm {
    fn name(&self) -> &'static str {
        "Lstm"
    }
    fn snake(&self) -> &'static str {
        "lstm"
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
        super::simple_rnn::DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        Ok(Box::new(spec(Cell::Lstm, b)?))
    }
}
