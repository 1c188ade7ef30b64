//! `parallel(concat | add | mul) { name { .. } .. }`: the shape rule that
//! merges parallel branches (Inception's concatenation, sums, and
//! squeeze-and-excitation's per-channel gate).
//!
//! The branches are planned by [`crate::plan`]; this module reads the merge
//! mode and computes the merged shape, naming the branches in errors.

use proc_macro2::Span;
use syn::Ident;

use super::common::fmt_shape;
use crate::parse::{Args, Value};

/// How branch outputs are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Along the channel (first per-sample) axis.
    Concat,
    /// Element-wise sum; `[C]` / `[C, 1, 1]` branches broadcast over `[C, H, W]`.
    Add,
    /// Element-wise product, broadcasting like [`Merge::Add`].
    Mul,
}

impl Merge {
    pub fn word(self) -> &'static str {
        match self {
            Merge::Concat => "concat",
            Merge::Add => "add",
            Merge::Mul => "mul",
        }
    }
}

/// Reads `parallel(..)`'s one argument.
pub fn parallel_merge(kw: &Ident, args: &Args) -> syn::Result<Merge> {
    let usage = "write `parallel(concat)`, `parallel(add)` or `parallel(mul)`";
    match args.list.as_slice() {
        [a] if a.name.is_none() => match &a.value {
            Value::Ident(w) if w == "concat" => Ok(Merge::Concat),
            Value::Ident(w) if w == "add" => Ok(Merge::Add),
            Value::Ident(w) if w == "mul" => Ok(Merge::Mul),
            other => Err(syn::Error::new(
                other.span(),
                format!("unknown merge `{}`: {usage}", other.text()),
            )),
        },
        [] => Err(syn::Error::new(
            kw.span(),
            format!("`parallel` needs a merge: {usage}"),
        )),
        [a, ..] => Err(syn::Error::new(a.span(), usage)),
    }
}

/// How a branch's output enters an add/mul merge of shape `full`.
pub fn is_gate(out: &[u64], full: &[u64]) -> bool {
    match (out, full) {
        ([c], [fc, _, _]) | ([c, 1, 1], [fc, _, _]) => c == fc,
        _ => false,
    }
}

/// The merged shape of branch outputs `(name, shape)`; a mismatch is an
/// error on the offending branch's name.
pub fn merged_shape(merge: Merge, outs: &[(Ident, Vec<u64>)]) -> syn::Result<Vec<u64>> {
    let mismatch = |span: Span, msg: String| Err(syn::Error::new(span, msg));
    let (first, shape0) = &outs[0];
    match merge {
        Merge::Concat => {
            if shape0.len() > 3 {
                return mismatch(
                    first.span(),
                    format!(
                        "parallel(concat): branch `{first}` gives {}; concatenation supports [features], [channels, length] and [channels, height, width]",
                        fmt_shape(shape0)
                    ),
                );
            }
            let mut channels = shape0[0];
            for (n, s) in &outs[1..] {
                if s.len() != shape0.len() || s[1..] != shape0[1..] {
                    return mismatch(
                        n.span(),
                        format!(
                            "parallel(concat): branch `{n}` gives {} but branch `{first}` gives {}; all but the channels must agree",
                            fmt_shape(s),
                            fmt_shape(shape0)
                        ),
                    );
                }
                channels = channels.checked_add(s[0]).ok_or_else(|| {
                    syn::Error::new(n.span(), "parallel(concat): too many channels")
                })?;
            }
            let mut out = shape0.clone();
            out[0] = channels;
            Ok(out)
        }
        Merge::Add | Merge::Mul => {
            let (full_name, full) = outs
                .iter()
                .max_by_key(|(_, s)| s.iter().product::<u64>())
                .map(|(n, s)| (n, s.clone()))
                .unwrap_or((first, shape0.clone()));
            for (n, s) in outs {
                if *s != full && !is_gate(s, &full) {
                    let gate = match full.as_slice() {
                        [c, _, _] => format!(" or a per-channel [{c}] / [{c}, 1, 1]"),
                        _ => String::new(),
                    };
                    return mismatch(
                        n.span(),
                        format!(
                            "parallel({}): branch `{n}` gives {} but branch `{full_name}` gives {}; the branches need equal shapes{gate}",
                            merge.word(),
                            fmt_shape(s),
                            fmt_shape(&full)
                        ),
                    );
                }
            }
            Ok(full)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outs(list: &[(&str, &[u64])]) -> Vec<(Ident, Vec<u64>)> {
        list.iter()
            .map(|(n, s)| (Ident::new(n, Span::call_site()), s.to_vec()))
            .collect()
    }

    #[test]
    fn concat_add_and_gates() {
        let c = merged_shape(
            Merge::Concat,
            &outs(&[("a", &[4, 8, 8]), ("b", &[6, 8, 8])]),
        );
        assert_eq!(c.unwrap(), vec![10, 8, 8]);
        let e = merged_shape(
            Merge::Concat,
            &outs(&[("a", &[4, 8, 8]), ("b", &[6, 4, 4])]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("branch `b` gives [6, 4, 4] but branch `a` gives [4, 8, 8]"),
            "{e}"
        );
        let m = merged_shape(Merge::Mul, &outs(&[("x", &[16, 4, 4]), ("se", &[16])]));
        assert_eq!(m.unwrap(), vec![16, 4, 4]);
        let m = merged_shape(
            Merge::Mul,
            &outs(&[("se", &[16, 1, 1]), ("x", &[16, 4, 4])]),
        );
        assert_eq!(m.unwrap(), vec![16, 4, 4]);
        let e = merged_shape(Merge::Add, &outs(&[("a", &[16, 4, 4]), ("b", &[8, 4, 4])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[16] / [16, 1, 1]"), "{e}");
        let e = merged_shape(
            Merge::Concat,
            &outs(&[("a", &[1, 2, 2, 2]), ("b", &[1, 2, 2, 2])]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("concatenation supports"), "{e}");
        let c = merged_shape(
            Merge::Concat,
            &outs(&[("a", &[3]), ("b", &[4]), ("c", &[5])]),
        );
        assert_eq!(c.unwrap(), vec![12]);
    }
}
