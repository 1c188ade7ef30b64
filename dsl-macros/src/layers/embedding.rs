//! `Embedding(vocab, dim)`: a lookup table from integer token ids to vectors
//! (PyTorch `nn.Embedding(vocab, dim)`), `tokens[T] -> [T, dim]`; the only
//! layer that takes token ids (`input: tokens[..]`). Parameter `weight
//! [vocab, dim]`. The generated forward checks every id is below `vocab`
//! before the lookup (an `Error`, not a panic).

use proc_macro2::TokenStream;
use quote::quote;

use super::args::{ArgSpec, Bound, Sp};
use super::common::{dims_of, err, fmt_shape, lit, mul};
use super::{Cx, Emit, Inferred, LayerCode, LayerKind, Node};

pub struct Embedding;

pub const DOC: &str =
    "| `Embedding` | `vocab`, `dim` | `tokens[T] -> [T, dim]` (the input declared `tokens[..]`) |";

const ARGS: &[ArgSpec] = &[ArgSpec::required("vocab"), ArgSpec::required("dim")];

impl LayerKind for Embedding {
    fn name(&self) -> &'static str {
        "Embedding"
    }
    fn snake(&self) -> &'static str {
        "embedding"
    }
    fn args(&self) -> &'static [ArgSpec] {
        ARGS
    }
    fn takes_tokens(&self) -> bool {
        true
    }
    fn any_length(&self) -> bool {
        true
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn bind(&self, b: &Bound<'_>) -> syn::Result<Box<dyn Node>> {
        let vocab = b.req_uint("vocab")?;
        let dim = b.req_uint("dim")?;
        for (v, what) in [(vocab, "vocab"), (dim, "dim")] {
            if v.v == 0 {
                return Err(err(
                    v.span,
                    format!("{}: {what} must be at least 1", b.label),
                ));
            }
        }
        Ok(Box::new(EmbeddingSpec { vocab, dim }))
    }
}

#[derive(Debug)]
struct EmbeddingSpec {
    vocab: Sp<u64>,
    dim: Sp<u64>,
}

impl Node for EmbeddingSpec {
    fn infer(&self, input: &[u64], cx: &Cx<'_>) -> syn::Result<Inferred> {
        let [t] = dims_of(input) else {
            return Err(err(
                cx.span,
                format!(
                    "{} takes one sequence of token ids per sample, `tokens[T]`, but gets {}",
                    cx.label,
                    fmt_shape(input)
                ),
            ));
        };
        Ok(Inferred {
            output: vec![*t, self.dim.v],
            params: mul(self.vocab.v, self.dim.v, self.dim.span, cx.label)?,
            macs: 0,
            explain: None,
            code: Box::new(EmbeddingCode {
                vocab: self.vocab.v,
                dim: self.dim.v,
            }),
        })
    }
}

#[derive(Debug)]
struct EmbeddingCode {
    vocab: u64,
    dim: u64,
}

impl Emit for EmbeddingCode {
    /// Runtime: `Embedding<V, M, E, D>`.
    fn emit(&self, l: &TokenStream) -> LayerCode {
        let (v, m) = (lit(self.vocab), lit(self.dim));
        LayerCode::visited(quote!(#l::Embedding<#v, #m, E, D>))
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::{DYN, TOKENS};
    use super::super::test_util::{code, infer, msg};

    #[test]
    fn shapes_params_and_code() {
        let i = infer("Embedding(100, 64)", &[35, TOKENS]).unwrap();
        assert_eq!((i.output, i.params), (vec![35, 64], 6400));
        assert_eq!(infer("Embedding(9, 2)", &[DYN, TOKENS]).unwrap().output, vec![DYN, 2]);
        assert_eq!(code("Embedding(9, 2)", &[4, TOKENS]), "L::Embedding<9,2,E,D>");
    }

    #[test]
    fn errors() {
        assert!(msg("Embedding(0, 4)", &[4, TOKENS]).contains("vocab must be at least 1"));
        assert!(msg("Embedding(4, 0)", &[4, TOKENS]).contains("dim must be at least 1"));
        assert!(msg("Embedding(4, 2)", &[4, 4, TOKENS]).contains("one sequence of token ids"));
        assert!(msg("Embedding(num_embeddings = 4, dim = 2)", &[4, TOKENS]).contains("did you mean `vocab`"));
    }
}
