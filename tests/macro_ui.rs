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

/// Models using runtime layers written on other branches (conv/pool of
/// issue 3; Dropout, BatchNorm1d, GeLU, SiLU, LogSoftmax of issue 2): these
/// only compile once `runtime/src/layers` has them, with the const-generic
/// parameter lists `dsl-macros/src/expand.rs` writes. Remove the `#[ignore]`
/// after those merges. Checked passing (cases compile and their `main`s run)
/// against a scratch copy with the `conv` branch at 4c5c9de and the `layers`
/// branch at c90a685 overlaid.
#[test]
#[ignore = "needs runtime layers from other branches (see doc comment)"]
fn ui_pass_after_merge() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_after_merge/*.rs");
}
