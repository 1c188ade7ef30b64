//! Compile-fail and compile-pass cases of `model!` (trybuild). Each
//! `tests/ui/fail/*.rs` has its expected `.stderr` next to it; regenerate with
//! `TRYBUILD=overwrite cargo test --test macro_ui` and read every diff: the
//! caret must be on the offending token, never on `model!`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
