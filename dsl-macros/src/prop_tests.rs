//! Property test of the whole pipeline (parse -> infer -> expand) on
//! generated sources: random models, valid-ish and mutated (dropped,
//! duplicated, swapped and garbled tokens, huge and zero numbers, arguments of
//! the wrong kind). The macro must never panic, every failure must be a
//! `syn::Error` that renders as `compile_error!`, and every success must be
//! valid Rust items.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::TokenStream;

use crate::expand::expand_all;
use crate::layers::KINDS;

/// xorshift64*: small, seeded, good enough for test generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "7",
    "8",
    "16",
    "28",
    "64",
    "255",
    "4294967296",
    "18446744073709551615",
    "100000000000000000000",
];
const FLOATS: &[&str] = &["0.5", "1.5", "0.0", "0.99", "1e300", "2.5e-3"];
const KEYWORDS: &[&str] = &[
    "same", "valid", "full", "nearest", "bilinear", "cubic", "true", "false", "foo",
];

fn value(rng: &mut Rng, depth: u32) -> String {
    match rng.below(if depth > 1 { 4 } else { 6 }) {
        0 | 1 => rng.pick(INTS).to_string(),
        2 => rng.pick(FLOATS).to_string(),
        3 => rng.pick(KEYWORDS).to_string(),
        4 => format!("({}, {})", value(rng, depth + 1), value(rng, depth + 1)),
        _ => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            format!("({})", items.join(", "))
        }
    }
}

/// A small positive size, mostly sensible.
fn size(rng: &mut Rng) -> String {
    if rng.chance(85) {
        rng.pick(&["1", "2", "3", "4", "5", "8", "16", "28", "32"])
            .to_string()
    } else {
        rng.pick(INTS).to_string()
    }
}

/// The kinds that read sequences or token ids (`[T, F]`, `tokens[T]`).
const SEQUENCE_KINDS: &[&str] = &["SimpleRnn", "Lstm", "Gru", "Bidirectional", "Embedding"];

/// A layer of the model's flavour: mostly sequence kinds (and `Dense`) in a
/// sequence model, mostly the others in an image or vector model, so that
/// both reach expansion often; now and then any kind, to test the errors.
fn layer(rng: &mut Rng, sequence: bool) -> String {
    let kind = loop {
        let kind = *rng.pick(KINDS);
        let is_seq = SEQUENCE_KINDS.contains(&kind.name()) || kind.name() == "Dense";
        if is_seq == sequence || rng.chance(10) {
            break kind;
        }
    };
    let table = kind.args();
    let required = table.iter().take_while(|a| a.default.is_none()).count();
    let mut args = Vec::new();
    // Required arguments, mostly well typed.
    for _ in 0..required {
        args.push(if rng.chance(85) {
            size(rng)
        } else {
            value(rng, 0)
        });
    }
    // Some optional named arguments, sometimes misspelled.
    for name in table[required..].iter().map(|a| a.name) {
        if rng.chance(25) {
            let v = match name {
                "bias" | "count_include_pad" | "align_corners" => {
                    rng.pick(&["true", "false"]).to_string()
                }
                "padding" => rng
                    .pick(&[
                        "0",
                        "1",
                        "2",
                        "same",
                        "valid",
                        "full",
                        "(1, 2)",
                        "((1, 0), (0, 1))",
                    ])
                    .to_string(),
                "mode" => rng.pick(&["nearest", "bilinear"]).to_string(),
                "alpha" | "beta" | "k" | "p" => rng.pick(FLOATS).to_string(),
                _ => size(rng),
            };
            let v = if rng.chance(10) { value(rng, 0) } else { v };
            let n = if rng.chance(5) {
                format!("{name}x")
            } else {
                name.to_string()
            };
            args.push(format!("{n} = {v}"));
        }
    }
    let call = if args.is_empty() && rng.chance(70) {
        kind.name().to_string()
    } else {
        format!("{}({})", kind.name(), args.join(", "))
    };
    let mut s = String::new();
    if rng.chance(40) {
        s.push_str(&format!("l{}: ", rng.below(6)));
    }
    s.push_str(&call);
    if rng.chance(10) {
        let dims: Vec<String> = (0..1 + rng.below(3)).map(|_| size(rng)).collect();
        s.push_str(&format!(" -> [{}]", dims.join(", ")));
    }
    s
}

fn model(rng: &mut Rng, idx: usize) -> String {
    if rng.chance(25) {
        return sequence_model(rng, idx);
    }
    let rank = 1 + rng.below(4);
    let dims: Vec<String> = (0..rank).map(|_| size(rng)).collect();
    let mut layers: Vec<String> = Vec::new();
    // Flat MLP-ish prefix often, to reach expansion.
    if rng.chance(50) {
        layers.push("Flatten".into());
        layers.push(format!("Dense({})", size(rng)));
    }
    for _ in 0..rng.below(6) {
        layers.push(layer(rng, false));
    }
    if rng.chance(10) {
        layers.push(format!("enc: Encoder{idx} -> [{}]", size(rng)));
    }
    format!(
        "/// doc\n pub M{idx}(input: [{}]) {{ {} }}",
        dims.join(", "),
        layers.join(", ")
    )
}

/// A sequence model: `[T, F]` (T a number or a run-time name) or `tokens[T]`
/// with an `Embedding` first, then recurrent and per-step layers.
fn sequence_model(rng: &mut Rng, idx: usize) -> String {
    let steps = if rng.chance(30) {
        rng.pick(&["seq", "_"]).to_string()
    } else {
        size(rng)
    };
    let mut layers: Vec<String> = Vec::new();
    let input = if rng.chance(40) {
        layers.push(format!("Embedding({}, {})", size(rng), size(rng)));
        format!("tokens[{steps}]")
    } else {
        format!("[{steps}, {}]", size(rng))
    };
    for _ in 0..rng.below(4) {
        layers.push(layer(rng, true));
    }
    format!(
        "/// doc\n pub M{idx}(input: {input}) {{ {} }}",
        layers.join(", ")
    )
}

fn source(rng: &mut Rng) -> String {
    let n = 1 + rng.below(2);
    let models: Vec<String> = (0..n).map(|i| model(rng, i)).collect();
    models.join("\n")
}

/// Splits a source into rough tokens for mutation.
fn lex(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const GARBAGE: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "::",
    "=",
    "->",
    "-",
    "_",
    "0",
    "1e400",
    "1u8",
    "99999999999999999999999",
    "\"s\"",
    "'a'",
    "#",
    "!",
    "residual",
    "parallel",
    "repeat",
    "block",
    "input",
    "Dense",
    "Conv2d",
    "self",
    "fn",
    "-1",
    "-2.5",
    "true",
    "same",
    "((",
    "))",
];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut toks = lex(src);
    for _ in 0..1 + rng.below(3) {
        if toks.is_empty() {
            break;
        }
        let i = rng.below(toks.len());
        match rng.below(4) {
            0 => {
                toks.remove(i);
            }
            1 => {
                let t = toks[i].clone();
                toks.insert(i, t);
            }
            2 => toks[i] = rng.pick(GARBAGE).to_string(),
            _ => {
                let j = rng.below(toks.len());
                toks.swap(i, j);
            }
        }
    }
    toks.join(" ")
}

/// Runs one source through the pipeline and checks the properties.
/// Returns `Some(true)` on success, `Some(false)` on a clean error, `None`
/// when the text is not even a token stream (unbalanced delimiters: rustc
/// never hands such input to a macro).
fn check(src: &str) -> Option<bool> {
    let tokens: TokenStream = syn::parse_str(src).ok()?;
    let result = catch_unwind(AssertUnwindSafe(|| expand_all(tokens)));
    let (expanded, error) = match result {
        Ok(r) => r,
        Err(_) => panic!("the macro panicked on:\n{src}"),
    };
    if let Some(e) = &error {
        for one in e.clone() {
            assert!(!one.to_string().is_empty(), "empty message for:\n{src}");
            let rendered = one.to_compile_error().to_string();
            assert!(
                rendered.contains("compile_error"),
                "not a compile_error for:\n{src}"
            );
        }
    }
    if !expanded.is_empty() {
        if let Err(e) = syn::parse2::<syn::File>(expanded.clone()) {
            panic!("expansion is not valid Rust ({e}) for:\n{src}\n{expanded}");
        }
    }
    Some(error.is_none())
}

#[test]
fn pipeline_never_panics_and_fails_with_spanned_errors() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut checked, mut ok, mut clean_ok, mut clean) = (0, 0, 0, 0);
    let mut attempts = 0;
    while checked < 12_000 {
        attempts += 1;
        assert!(
            attempts < 100_000,
            "generator produces too few token streams"
        );
        let base = source(&mut rng);
        let mutated = rng.chance(60);
        let src = if mutated {
            mutate(&mut rng, &base)
        } else {
            base
        };
        if let Some(success) = check(&src) {
            checked += 1;
            if success {
                ok += 1;
            }
            if !mutated {
                clean += 1;
                if success {
                    clean_ok += 1;
                }
            }
        }
    }
    eprintln!(
        "checked {checked} sources ({attempts} generated): {ok} expanded, \
         {clean_ok} of {clean} unmutated ones expanded"
    );
    // The generator must reach expansion often enough to test it.
    assert!(ok > 500, "only {ok} of {checked} sources expanded");
    assert!(
        clean_ok * 10 > clean,
        "only {clean_ok} of {clean} clean sources expanded"
    );
    assert!(ok < checked, "no source failed");
}

#[test]
fn well_formed_dense_models_always_expand() {
    let mut rng = Rng(42);
    for i in 0..500 {
        let rank = 1 + rng.below(4);
        let dims: Vec<String> = (0..rank).map(|_| (1 + rng.below(9)).to_string()).collect();
        let mut layers = vec!["Flatten".to_string()];
        for _ in 0..1 + rng.below(8) {
            layers.push(match rng.below(6) {
                0 => format!("Dense({})", 1 + rng.below(64)),
                1 => "ReLU".into(),
                2 => "Tanh".into(),
                3 => format!("LeakyReLU({})", rng.pick(&["0.1", "0.3"])),
                4 => format!("Dense({}, bias = false)", 1 + rng.below(64)),
                _ => "Sigmoid".into(),
            });
        }
        let src = format!(
            "pub N{i}(input: [{}]) {{ {} }}",
            dims.join(", "),
            layers.join(", ")
        );
        assert_eq!(check(&src), Some(true), "{src}");
    }
}

#[test]
fn composite_constructs_expand() {
    for src in [
        "pub N(input: [4]) { residual(shortcut = auto) { Dense(4), ReLU }, ReLU }",
        "pub N(input: [4]) { parallel(concat) { a { Dense(2) } b { Dense(2), ReLU } } }",
        "pub N(input: [4]) { body: repeat 3 { Dense(4), ReLU } }",
        "pub N(input: [4]) { g: { Dense(4), ReLU } -> [4], Dense(2) }",
        "block B(c) { Dense(c * 2) } pub N(input: [4]) { B(3) -> [6], Dense(2) }",
    ] {
        assert_eq!(check(src), Some(true), "{src}");
    }
}
