//! `Gru(units, return_sequences = false, dropout = 0.0, reset_after = true)`:
//! gated recurrent unit (PyTorch `nn.GRU` with `reset_after = true`, Cho et
//! al.'s form with `false`), `[T, F] -> [units]` or every step `[T, units]`;
//! shared rules in [`super::recurrent`].

use super::args::{ArgSpec, Bound};
use super::recurrent::{spec, Cell, GRU_ARGS};
use super::{LayerKind, Node};

pub struct Gru;

impl LayerKind for Gru {
    fn name(&self) -> &'static str {
        "Gru"
    }
    fn snake(&self) -> &'static str {
        "gru"
    }
    fn args(&self) -> &'static [ArgSpec] {
        GRU_ARGS
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
        Ok(Box::new(spec(Cell::Gru(true), b)?))
    }
}
