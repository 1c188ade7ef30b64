//! The PyTorch fixtures: one JSON file per case (`op`, `description`,
//! `config`, named tensors) plus an `index.json` listing every file with its
//! `op` and `config`. See `fixtures/README.md` for the format and conventions.
//!
//! The folder is `$SXIMA_FIXTURES` when set, else `fixtures/` at the
//! repository root; nothing outside the repository is read by default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A fixture file (or the index) that could not be read or parsed.
#[derive(Debug)]
pub struct FixtureError {
    /// The file concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for FixtureError {}

/// `Result` with a [`FixtureError`].
pub type Result<T> = std::result::Result<T, FixtureError>;

/// One tensor of a fixture file: row-major data and its shape (`[]` = scalar).
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl FixtureTensor {
    /// The value of a scalar tensor (or the first element).
    pub fn scalar(&self) -> f32 {
        self.data[0]
    }
    /// Data as `f64`, for tests run in double precision.
    pub fn data_f64(&self) -> Vec<f64> {
        self.data.iter().map(|&v| v as f64).collect()
    }
}

/// One fixture file.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// File name (set by the loader).
    #[serde(skip)]
    pub file: String,
    pub op: String,
    #[serde(default)]
    pub description: String,
    pub config: serde_json::Value,
    pub tensors: BTreeMap<String, FixtureTensor>,
}

impl Fixture {
    /// The tensor called `name`; panics with the file name if missing (tests only).
    pub fn tensor(&self, name: &str) -> &FixtureTensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.file))
    }
    /// A config entry as `f64`; panics with the file name if missing (tests only).
    pub fn cfg_f64(&self, key: &str) -> f64 {
        self.config[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: config `{key}` is not a number", self.file))
    }
    /// A config entry as `usize`; panics unless it is a non-negative integer.
    pub fn cfg_usize(&self, key: &str) -> usize {
        self.config[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: config `{key}` is not a count", self.file))
            as usize
    }
    /// A config entry as `bool`; panics with the file name if missing.
    pub fn cfg_bool(&self, key: &str) -> bool {
        self.config[key]
            .as_bool()
            .unwrap_or_else(|| panic!("{}: config `{key}` is not a bool", self.file))
    }
}

#[derive(Deserialize)]
struct Index {
    files: Vec<IndexEntry>,
}

/// One line of `index.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexEntry {
    pub file: String,
    pub op: String,
}

/// `$SXIMA_FIXTURES` if set and not empty (a relative path is taken from
/// this crate's folder, as the build script that instantiates the checks
/// takes it), else `fixtures/` at the repository root.
pub fn fixtures_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("SXIMA_FIXTURES") {
        Some(dir) if !dir.is_empty() => manifest.join(dir),
        _ => manifest.join("../fixtures"),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let err = |message: String| FixtureError {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// Every file listed in `index.json`, in order.
pub fn index_entries() -> Result<Vec<IndexEntry>> {
    Ok(read_json::<Index>(&fixtures_dir().join("index.json"))?.files)
}

/// Loads one fixture file by name.
pub fn load_fixture(file: &str) -> Result<Fixture> {
    let mut f: Fixture = read_json(&fixtures_dir().join(file))?;
    f.file = file.to_string();
    Ok(f)
}

/// Every op named in `index.json`, with its file count.
pub fn ops_in_index() -> Result<BTreeMap<String, usize>> {
    let mut ops = BTreeMap::new();
    for e in index_entries()? {
        *ops.entry(e.op).or_insert(0) += 1;
    }
    Ok(ops)
}

/// Loads every fixture file whose `op` is `op`, in index order.
pub fn fixtures_for_op(op: &str) -> Result<Vec<Fixture>> {
    index_entries()?
        .iter()
        .filter(|e| e.op == op)
        .map(|e| load_fixture(&e.file))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the index lists exists, parses, and has the index's `op`.
    #[test]
    fn every_indexed_file_loads_with_its_op() {
        let entries = index_entries().expect("fixtures index");
        assert!(
            !entries.is_empty(),
            "{} lists no files",
            fixtures_dir().display()
        );
        for e in &entries {
            let f = load_fixture(&e.file).expect("fixture file");
            assert_eq!(f.op, e.op, "{}", e.file);
            assert!(!f.tensors.is_empty(), "{}: no tensors", e.file);
        }
        let counts = ops_in_index().unwrap();
        assert_eq!(counts.values().sum::<usize>(), entries.len());
        let first = &entries[0];
        assert_eq!(fixtures_for_op(&first.op).unwrap().len(), counts[&first.op]);
    }

    #[test]
    fn default_folder_is_inside_the_repository() {
        if std::env::var_os("SXIMA_FIXTURES").is_none_or(|d| d.is_empty()) {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let dir = fixtures_dir().canonicalize().expect("fixtures/ exists");
            assert!(dir.starts_with(repo.canonicalize().unwrap()), "{dir:?}");
        }
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let e = load_fixture("no_such_fixture.json").unwrap_err();
        assert!(e.to_string().contains("no_such_fixture.json"), "{e}");
    }
}
