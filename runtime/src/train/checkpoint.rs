//! Model checkpoints as safetensors files.
//!
//! For an application the entry points are [`ModelFile::save`] and
//! [`ModelFile::load`] (`Mlp::<f32, Cpu>::load("mlp.safetensors", &dev)?`),
//! which record and check which model wrote the file.
//!
//! [`save`] writes every tensor the model visits under its parameter path
//! (`fc1.weight`), plus dfdx's scalars (batch-norm momentum ...) as rank-0
//! `f64`, atomically ([`atomic_write`]: a temporary file
//! `.NAME.tmp.<pid>.<n>` in the same directory, then a rename, so a crash
//! never leaves a half-written checkpoint under the real name; a later save
//! to the same target removes temporary files killed processes left behind).
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
pub use crate::train::atomic_file::{atomic_write, check_save_target};

/// Keys starting with this are not model tensors (optimizer state ...);
/// [`load`] skips them.
pub const RESERVED_PREFIX: &str = "__train__.";

/// The last path segment of PyTorch's batch-norm step counter, which a
/// `state_dict()` holds and sxima's batch norm does not keep.
pub const BATCH_COUNTER: &str = "num_batches_tracked";

/// Metadata key prefix of the per-tensor checksums (FNV-1a 64, lower-case hex).
pub const CHECKSUM_PREFIX: &str = "sxima.fnv1a64.";

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
    /// Skip PyTorch's batch-norm counters (`<bn>.num_batches_tracked`, an
    /// int64 scalar sxima's batch norm does not keep) instead of reporting
    /// them as extra tensors. On for [`ModelFile::load_state_dict`](crate::train::ModelFile::load_state_dict).
    pub ignore_batch_counters: bool,
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
    /// Skips `*.num_batches_tracked` entries (PyTorch's batch-norm counters).
    pub fn ignore_batch_counters(mut self, yes: bool) -> Self {
        self.ignore_batch_counters = yes;
        self
    }
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
        .filter(|n| !(options.ignore_batch_counters && is_batch_counter(n)))
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

/// `bn1.num_batches_tracked` (or a bare `num_batches_tracked`).
fn is_batch_counter(name: &str) -> bool {
    name.rsplit('.').next() == Some(BATCH_COUNTER)
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
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
