//! Model checkpoints as safetensors files.
//!
//! For an application the entry points are [`ModelFile::save`] and
//! [`ModelFile::load`] (`Mlp::<f32, Cpu>::load("mlp.safetensors", &dev)?`),
//! which record and check which model wrote the file.
//!
//! [`save`] writes every tensor the model visits under its parameter path
//! (`fc1.weight`), plus dfdx's scalars (batch-norm momentum ...) as rank-0
//! `f64`, atomically: a temporary file `.NAME.tmp.<pid>.<n>` in the same
//! directory, then a rename, so a crash never leaves a half-written
//! checkpoint under the real name; a later save to the same target removes
//! temporary files that crashed (killed) processes left behind.
//!
//! Integrity: the header's metadata holds an FNV-1a 64 checksum of every
//! tensor's bytes (`sxima.fnv1a64.<tensor>`), verified on load, so a flipped
//! bit is [`Error::ChecksumMismatch`] naming the tensor. Files without
//! checksums (older ones, or written by PyTorch / dfdx) still load.
//! Non-finite weights are [`Error::NonFiniteWeight`] unless
//! [`LoadOptions::allow_non_finite`] is set. [`save_model`] also records the
//! model's name, input and output shapes and parameter count, so loading
//! another model's file is one line ([`Error::WrongModel`]: "this file holds
//! a `Mlp` (...), not a `DigitCnn` (...)").
//!
//! [`load`] never panics: it parses the header itself and checks that every
//! tensor the model needs exists with the right dtype and shape, and that the
//! file holds nothing the model does not know, *before* copying any value, so
//! a failed load leaves the model untouched. Errors name the tensor and both
//! shapes (`fc1.weight: file has [128, 784], model needs [256, 784]`).
//! Keys under [`RESERVED_PREFIX`] are ignored (training state, see `resume`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use dfdx::nn::{
    ScalarOptions, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::prelude::RecursiveWalker;
use dfdx::shapes::{HasShape, Shape};
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Device;
use num_traits::NumCast;
use safetensors::tensor::{Dtype as SDtype, SafeTensors};

use crate::elem::Elem;
use crate::error::{Error, Result, TensorMismatch};
use crate::model::{thousands, Model, ModelInfo};

/// Keys starting with this are not model tensors (optimizer state ...);
/// [`load`] skips them.
pub const RESERVED_PREFIX: &str = "__train__.";

/// Metadata key prefix of the per-tensor checksums (FNV-1a 64, lower-case hex).
pub const CHECKSUM_PREFIX: &str = "sxima.fnv1a64.";
/// Metadata key: the model's type name (`ModelInfo::NAME`).
pub const MODEL_KEY: &str = "sxima.model";
/// Metadata key: the per-sample input shape, as `[1, 28, 28]`.
pub const INPUT_SHAPE_KEY: &str = "sxima.input_shape";
/// Metadata key: the per-sample output shape, as `[10]`.
pub const OUTPUT_SHAPE_KEY: &str = "sxima.output_shape";
/// Metadata key: the trainable parameter count, as decimal digits.
pub const PARAM_COUNT_KEY: &str = "sxima.param_count";

/// FNV-1a, 64 bits, of `bytes`: the per-tensor checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// How [`load_with`] treats what it reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Accept NaN or infinite weights (by default they are
    /// [`Error::NonFiniteWeight`]: a model trained into NaN is not a model).
    pub allow_non_finite: bool,
}

impl LoadOptions {
    /// The defaults: checksums verified, non-finite weights rejected.
    pub fn new() -> Self {
        Self::default()
    }
    /// Accepts non-finite weights.
    pub fn allow_non_finite(mut self, yes: bool) -> Self {
        self.allow_non_finite = yes;
        self
    }
}

/// The model identity [`save_model`] records: name, shapes, parameter count.
fn identity<M: ModelInfo>() -> [(String, String); 4] {
    [
        (MODEL_KEY.into(), M::NAME.into()),
        (INPUT_SHAPE_KEY.into(), format!("{:?}", M::INPUT_SHAPE)),
        (OUTPUT_SHAPE_KEY.into(), format!("{:?}", M::OUTPUT_SHAPE)),
        (PARAM_COUNT_KEY.into(), M::PARAM_COUNT.to_string()),
    ]
}

/// `Mlp (input [784], output [10], 50,890 params)`.
fn describe(name: &str, input: &str, output: &str, params: &str) -> String {
    let params = params
        .parse::<usize>()
        .map(thousands)
        .unwrap_or_else(|_| params.to_string());
    format!("`{name}` (input {input}, output {output}, {params} params)")
}

/// Errors with [`Error::WrongModel`] when `meta` names another model (or
/// the same name with other shapes or parameter count). Files without a
/// model name (plain [`save`], PyTorch) pass.
pub fn check_identity<M: ModelInfo>(meta: &HashMap<String, String>, path: &Path) -> Result<()> {
    let Some(name) = meta.get(MODEL_KEY) else {
        return Ok(());
    };
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("?");
    let ours = identity::<M>();
    let same = ours.iter().all(|(k, v)| get(k) == v);
    if same {
        return Ok(());
    }
    Err(Error::WrongModel {
        path: path.to_path_buf(),
        file: describe(
            name,
            get(INPUT_SHAPE_KEY),
            get(OUTPUT_SHAPE_KEY),
            get(PARAM_COUNT_KEY),
        ),
        model: describe(M::NAME, &ours[1].1, &ours[2].1, &M::PARAM_COUNT.to_string()),
    })
}

/// True when `file_name` is a temporary file of [`atomic_write`] for target
/// `name` (`.NAME.tmp.<pid>.<n>`) left by a process that no longer runs.
fn is_stale_temp(file_name: &str, name: &str, dir: &Path) -> bool {
    let Some(rest) = file_name
        .strip_prefix('.')
        .and_then(|r| r.strip_prefix(name))
        .and_then(|r| r.strip_prefix(".tmp."))
    else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
    let counter_ok = parts.next().is_some_and(|c| c.parse::<u64>().is_ok());
    let Some(pid) = pid.filter(|_| counter_ok) else {
        return false;
    };
    if pid == std::process::id() {
        return false; // ours: possibly another thread's save in flight
    }
    if Path::new("/proc/self").exists() {
        !Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // No process table to ask: stale when untouched for an hour.
        std::fs::metadata(dir.join(file_name))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600)
    }
}

/// Removes stale temporary files of target `name` in `dir` (best effort).
fn remove_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        if is_stale_temp(&file_name, name, dir) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Errors unless `path` can be a save target: its folder exists and is a
/// folder, and `path` is not itself a folder. Callbacks run this before
/// training starts, so a typo fails before epoch 1, not after it.
pub fn check_save_target(path: &Path) -> Result<()> {
    let bad = |msg: String| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, msg),
    };
    if path.file_name().is_none() || path.is_dir() {
        return Err(bad("is a folder, not a file path to save to".into()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(bad(format!(
            "cannot save here: folder {} does not exist",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. After a successful
/// write, temporary files of the same target left by dead processes are
/// removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })?;
    remove_stale_temps(&dir, &name);
    Ok(())
}

/// One tensor ready to serialise.
pub(crate) struct Entry {
    pub(crate) dtype: SDtype,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<u8>,
}

struct Collect(Vec<(String, Entry)>);

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for Collect {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        let data = t
            .as_vec()
            .into_iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        self.0.push((
            name,
            Entry {
                dtype: E::safe_dtype(),
                shape: t.shape().concrete().into(),
                data,
            },
        ));
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        (n, name): (&N, String),
    ) -> Result<Option<N>, D::Err> {
        let v = n.to_f64().unwrap_or(f64::NAN);
        self.0.push((
            name,
            Entry {
                dtype: SDtype::F64,
                shape: Vec::new(),
                data: v.to_le_bytes().to_vec(),
            },
        ));
        Ok(None)
    }
}

/// The model's tensors and scalars as `(path, entry)` pairs.
pub(crate) fn collect<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
) -> Result<Vec<(String, Entry)>> {
    let mut c = Collect(Vec::new());
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut c,
    })
    .map_err(|e| Error::Device(format!("{e:?}")))?;
    Ok(c.0)
}

/// Serialises entries (plus string metadata and a checksum per entry) to
/// safetensors bytes: an 8-byte little-endian header length, the JSON
/// header (padded with spaces to a multiple of 8), then the tensors' bytes in
/// entry order. Written here rather than by `safetensors::serialize` so that
/// the header's keys are sorted: the same model gives the same bytes (that
/// crate writes the metadata map in hash order).
pub(crate) fn serialize(
    entries: &[(String, Entry)],
    metadata: Option<HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>> {
    let err = |m: String| Error::corrupt(path, m);
    let mut meta: BTreeMap<String, String> = metadata.unwrap_or_default().into_iter().collect();
    let mut header: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut offset = 0usize;
    for (name, e) in entries {
        let want = e.shape.iter().product::<usize>() * e.dtype.size();
        if e.data.len() != want {
            return Err(err(format!(
                "cannot serialise {name}: {} bytes for shape {:?} of {:?}",
                e.data.len(),
                e.shape,
                e.dtype
            )));
        }
        meta.insert(
            format!("{CHECKSUM_PREFIX}{name}"),
            format!("{:016x}", fnv1a64(&e.data)),
        );
        let dtype = serde_json::to_value(e.dtype)
            .map_err(|x| err(format!("cannot serialise {name}: {x}")))?;
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": dtype,
                "shape": e.shape,
                "data_offsets": [offset, offset + e.data.len()],
            }),
        );
        offset += e.data.len();
    }
    header.insert("__metadata__".into(), serde_json::json!(meta));
    let mut json =
        serde_json::to_vec(&header).map_err(|x| err(format!("cannot serialise: {x}")))?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, e) in entries {
        out.extend_from_slice(&e.data);
    }
    Ok(out)
}

/// Saves a `model!` model to `path` as safetensors, atomically, with its
/// identity (name, input/output shape, parameter count) and checksums in the
/// metadata. [`ModelFile::save`] calls it.
pub fn save_model<E: Elem, D: Device<E>, M: TensorCollection<E, D> + ModelInfo>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    save_with_metadata(model, path, identity::<M>().into_iter().collect())
}

/// Saves `model` to `path` as safetensors, atomically, with a checksum per
/// tensor (no model identity: any `TensorCollection` works).
pub fn save<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    save_with_metadata(model, path, HashMap::new())
}

/// [`save`] with string metadata stored in the safetensors header.
pub fn save_with_metadata<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    path: impl AsRef<Path>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let entries = collect(model)?;
    let bytes = serialize(&entries, Some(metadata), path)?;
    atomic_write(path, &bytes)
}

/// First pass of a load: compares the file with what the model visits.
struct Check<'a> {
    file: &'a SafeTensors<'a>,
    seen: BTreeSet<String>,
    problems: Vec<TensorMismatch>,
    /// Reject NaN/inf weights: the first one found goes into `non_finite`.
    reject_non_finite: bool,
    non_finite: Option<(String, usize, f64)>,
}

impl Check<'_> {
    fn check(&mut self, name: &str, dtype: SDtype, shape: &[usize], scalar: bool) {
        self.seen.insert(name.to_string());
        match self.file.tensor(name) {
            Err(_) if scalar => {} // dfdx semantics: a missing scalar keeps its default
            Err(_) => self.problems.push(TensorMismatch::Missing {
                tensor: name.to_string(),
                model: shape.to_vec(),
            }),
            Ok(t) => {
                if t.dtype() != dtype {
                    self.problems.push(TensorMismatch::Dtype {
                        tensor: name.to_string(),
                        file: format!("{:?}", t.dtype()),
                        model: format!("{dtype:?}"),
                    });
                } else if t.shape() != shape {
                    self.problems.push(TensorMismatch::Shape {
                        tensor: name.to_string(),
                        file: t.shape().to_vec(),
                        model: shape.to_vec(),
                    });
                } else if self.reject_non_finite && self.non_finite.is_none() {
                    self.non_finite =
                        first_non_finite(dtype, t.data()).map(|(i, v)| (name.to_string(), i, v));
                }
            }
        }
    }
}

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for Check<'_> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        let shape: Vec<usize> = t.shape().concrete().into();
        self.check(&name, E::safe_dtype(), &shape, false);
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        (_, name): (&N, String),
    ) -> Result<Option<N>, D::Err> {
        self.check(&name, SDtype::F64, &[], true);
        Ok(None)
    }
}

/// Index and value of the first NaN/inf among little-endian float bytes.
fn first_non_finite(dtype: SDtype, bytes: &[u8]) -> Option<(usize, f64)> {
    match dtype {
        SDtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .enumerate()
            .find(|(_, v)| !v.is_finite()),
        SDtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .enumerate()
            .find(|(_, v)| !v.is_finite()),
        _ => None,
    }
}

/// Verifies the per-tensor checksums when the file has any: then every
/// tensor must have one, every checksum must name a tensor, and each must
/// match the tensor's bytes. Files without checksums pass.
fn verify_checksums(file: &SafeTensors<'_>, bytes: &[u8], path: &Path) -> Result<()> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let sums: HashMap<&str, &String> = meta
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(CHECKSUM_PREFIX).map(|n| (n, v)))
        .collect();
    if sums.is_empty() {
        return Ok(());
    }
    let mut names = file.names();
    names.sort();
    for name in &names {
        let Some(stored) = sums.get(name.as_str()) else {
            return Err(Error::corrupt(
                path,
                format!("tensor {name} has no checksum, while the file has checksums for others"),
            ));
        };
        let view = file
            .tensor(name)
            .map_err(|e| not_safetensors(path, bytes, e))?;
        let computed = format!("{:016x}", fnv1a64(view.data()));
        if **stored != computed {
            return Err(Error::ChecksumMismatch {
                path: path.to_path_buf(),
                tensor: name.to_string(),
                stored: stored.to_string(),
                computed,
            });
        }
    }
    let mut orphans: Vec<&&str> = sums
        .keys()
        .filter(|n| !names.iter().any(|m| m.as_str() == **n))
        .collect();
    orphans.sort();
    if let Some(n) = orphans.first() {
        return Err(Error::corrupt(
            path,
            format!("checksum for tensor {n}, which is not in the file"),
        ));
    }
    Ok(())
}

/// Second pass: copies the (already checked) values into the model.
struct Copy<'a> {
    file: &'a SafeTensors<'a>,
}

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for Copy<'_> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&mut Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        if let Ok(view) = self.file.tensor(&name) {
            let bytes = view.data();
            let size = std::mem::size_of::<E>();
            let values: Vec<E> = (0..bytes.len() / size)
                .map(|i| E::from_le_bytes(bytes, i * size))
                .collect();
            t.copy_from(&values);
        }
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        (n, name): (&mut N, String),
    ) -> Result<Option<N>, D::Err> {
        if let Ok(view) = self.file.tensor(&name) {
            if let Ok(b) = <[u8; 8]>::try_from(view.data()) {
                if let Some(v) = N::from(f64::from_le_bytes(b)) {
                    *n = v;
                }
            }
        }
        Ok(None)
    }
}

/// Checks `bytes` (a safetensors file) against `model` without changing it,
/// with the default [`LoadOptions`]. Errors with [`Error::CorruptCheckpoint`]
/// when it is not safetensors, [`Error::ChecksumMismatch`] when a tensor's
/// bytes changed, every problem found ([`Error::CheckpointMismatch`]) when
/// the file does not fit, [`Error::NonFiniteWeight`] on a NaN/inf weight.
pub fn check_bytes<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    bytes: &[u8],
    path: &Path,
) -> Result<()> {
    check_bytes_with(model, bytes, path, &LoadOptions::default())
}

/// [`check_bytes`] with explicit [`LoadOptions`].
pub fn check_bytes_with<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    bytes: &[u8],
    path: &Path,
    options: &LoadOptions,
) -> Result<()> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    verify_checksums(&file, bytes, path)?;
    let mut check = Check {
        file: &file,
        seen: BTreeSet::new(),
        problems: Vec::new(),
        reject_non_finite: !options.allow_non_finite,
        non_finite: None,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut check,
    })
    .map_err(|e| Error::Device(format!("{e:?}")))?;
    let mut problems = check.problems;
    let mut extra: Vec<&String> = file
        .names()
        .into_iter()
        .filter(|n| !check.seen.contains(n.as_str()) && !n.starts_with(RESERVED_PREFIX))
        .collect();
    extra.sort();
    for n in extra {
        let file_shape = file
            .tensor(n)
            .map(|t| t.shape().to_vec())
            .unwrap_or_default();
        problems.push(TensorMismatch::Extra {
            tensor: n.clone(),
            file: file_shape,
        });
    }
    if !problems.is_empty() {
        return Err(Error::CheckpointMismatch {
            path: path.to_path_buf(),
            mismatches: problems,
        });
    }
    match check.non_finite {
        Some((tensor, index, value)) => Err(Error::NonFiniteWeight {
            path: path.to_path_buf(),
            tensor,
            index,
            value,
        }),
        None => Ok(()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads weights saved by [`save`] (or dfdx's `save_safetensors`, or
/// PyTorch's safetensors with the same names) into `model`, verifying
/// checksums and rejecting non-finite weights. On any error the model is
/// left unchanged.
pub fn load<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<()> {
    load_with(model, path, &LoadOptions::default())
}

/// [`load`] with explicit [`LoadOptions`].
pub fn load_with<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_bytes_with(model, &bytes, path, options)
}

/// [`load`] from bytes in memory; `path` only names the source in errors.
pub fn load_bytes<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    bytes: &[u8],
    path: &Path,
) -> Result<()> {
    load_bytes_with(model, bytes, path, &LoadOptions::default())
}

/// [`load_bytes`] with explicit [`LoadOptions`].
pub fn load_bytes_with<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    bytes: &[u8],
    path: &Path,
    options: &LoadOptions,
) -> Result<()> {
    check_bytes_with(model, bytes, path, options)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut Copy { file: &file },
    })
    .map_err(|e| Error::Device(format!("{e:?}")))?;
    Ok(())
}

/// The string metadata in a safetensors file's header (empty when none).
pub fn read_metadata(path: impl AsRef<Path>) -> Result<HashMap<String, String>> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let (_, meta) =
        SafeTensors::read_metadata(&bytes).map_err(|e| not_safetensors(path, &bytes, e))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// [`Error::CorruptCheckpoint`] for bytes safetensors cannot parse.
pub(crate) fn not_safetensors(path: &Path, bytes: &[u8], e: safetensors::SafeTensorError) -> Error {
    Error::corrupt(
        path,
        format!(
            "not a valid safetensors file ({} bytes): {e:?}",
            bytes.len()
        ),
    )
}

/// Builds a `model!` model on `device` from a checkpoint in memory: checks
/// the recorded identity ([`Error::WrongModel`]), then loads as
/// [`load_bytes_with`]. `path` only names the source in errors.
pub fn model_from_bytes<E: Elem, D: Device<E>, M: Model<E, D>>(
    bytes: &[u8],
    path: &Path,
    device: &D,
    options: &LoadOptions,
) -> Result<M> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    check_identity::<M>(&header.metadata().clone().unwrap_or_default(), path)?;
    let mut model = <M as dfdx::nn::BuildModule<D, E>>::try_build(device)
        .map_err(|e| Error::Device(format!("{e:?}")))?;
    load_bytes_with(&mut model, bytes, path, options)?;
    Ok(model)
}

/// Saving and loading a whole `model!` model: the application API.
///
/// ```no_run
/// # use sxima_runtime::{dfdx::prelude::*, Model, train::checkpoint::ModelFile};
/// # fn demo<M: Model<f32, Cpu>>(model: &M) -> sxima_runtime::Result<()> {
/// model.save("model.safetensors")?; // weights, checksums, identity
/// let dev = Cpu::default();
/// let back = M::load("model.safetensors", &dev)?; // the typed model
/// # Ok(()) }
/// ```
///
/// Implemented for every [`Model`]; the file records the model's name,
/// input/output shape and parameter count, so another model's file is one
/// line ([`Error::WrongModel`]).
pub trait ModelFile<E: Elem, D: Device<E>>: Sized {
    /// Saves the model atomically (see [`save_model`]).
    fn save(&self, path: impl AsRef<Path>) -> Result<()>;
    /// Builds the model on `device` with the weights in `path`: identity,
    /// checksums, tensor names/shapes/dtypes and finiteness are checked
    /// before any value is used.
    fn load(path: impl AsRef<Path>, device: &D) -> Result<Self> {
        Self::load_with(path, device, &LoadOptions::default())
    }
    /// [`ModelFile::load`] with explicit [`LoadOptions`].
    fn load_with(path: impl AsRef<Path>, device: &D, options: &LoadOptions) -> Result<Self>;
}

impl<E: Elem, D: Device<E>, M: Model<E, D>> ModelFile<E, D> for M {
    fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_model(self, path)
    }
    fn load_with(path: impl AsRef<Path>, device: &D, options: &LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        model_from_bytes(&read(path)?, path, device, options)
    }
}
