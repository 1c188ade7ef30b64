//! `sxima-testkit`: what sxima's tests share and users never see (this crate is
//! `publish = false` and only ever a dev-dependency).
//!
//! * [`fixture`]: the PyTorch fixtures in `fixtures/` at the repository root
//!   (or the folder in `$SXIMA_FIXTURES`), read through their `index.json`.
//! * [`compare`]: element-wise comparison with a relative tolerance, and the
//!   panicking assert the tests use.
//! * [`gradient`]: central finite differences and the gradient assert.
//!
//! The fixture harness itself is this crate's integration test
//! `tests/fixtures/` (`cargo test -p sxima-testkit --test fixtures`); the
//! build script generates its const-generic instantiations from the index.

pub mod compare;
pub mod fixture;
pub mod gradient;

pub use compare::{assert_close, first_mismatch};
pub use fixture::{
    fixtures_dir, fixtures_for_op, index_entries, load_fixture, ops_in_index, Fixture,
    FixtureError, FixtureTensor, IndexEntry,
};
pub use gradient::{assert_gradient_matches, numeric_gradient};
