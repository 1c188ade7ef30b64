//! Model checkpoints as safetensors files.
//!
//! [`save`] writes every tensor the model visits under its parameter path
//! (`fc1.weight`), plus dfdx's scalars (batch-norm momentum ...) as rank-0
//! `f64`, atomically: a temporary file in the same directory, then a rename,
//! so a crash never leaves a half-written checkpoint under the real name.
//!
//! [`load`] never panics: it parses the header itself and checks that every
//! tensor the model needs exists with the right dtype and shape, and that the
//! file holds nothing the model does not know, *before* copying any value, so
//! a failed load leaves the model untouched. Errors name the tensor and both
//! shapes (`fc1.weight: file has [128, 784], model needs [256, 784]`).
//! Keys under [`RESERVED_PREFIX`] are ignored (training state, see `resume`).

use std::collections::{BTreeSet, HashMap};
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
use safetensors::tensor::{Dtype as SDtype, SafeTensors, TensorView};

use crate::elem::Elem;
use crate::error::{Error, Result, TensorMismatch};

/// Keys starting with this are not model tensors (optimizer state ...);
/// [`load`] skips them.
pub const RESERVED_PREFIX: &str = "__train__.";

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`.
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
    })
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

/// Serialises entries (plus string metadata) to safetensors bytes.
pub(crate) fn serialize(
    entries: &[(String, Entry)],
    metadata: Option<HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>> {
    let err = |m: String| Error::corrupt(path, m);
    let mut views = Vec::with_capacity(entries.len());
    for (name, e) in entries {
        let view = TensorView::new(e.dtype, e.shape.clone(), &e.data)
            .map_err(|x| err(format!("cannot serialise {name}: {x:?}")))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, &metadata).map_err(|x| err(format!("cannot serialise: {x:?}")))
}

/// Saves `model` to `path` as safetensors, atomically.
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
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    let bytes = serialize(&entries, meta, path)?;
    atomic_write(path, &bytes)
}

/// First pass of a load: compares the file with what the model visits.
struct Check<'a> {
    file: &'a SafeTensors<'a>,
    seen: BTreeSet<String>,
    problems: Vec<TensorMismatch>,
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

/// Checks `bytes` (a safetensors file) against `model` without changing it.
/// Errors with every problem found ([`Error::CheckpointMismatch`]) when the
/// file does not fit, [`Error::CorruptCheckpoint`] when it is not safetensors.
pub fn check_bytes<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    bytes: &[u8],
    path: &Path,
) -> Result<()> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| not_safetensors(path, bytes, e))?;
    let mut check = Check {
        file: &file,
        seen: BTreeSet::new(),
        problems: Vec::new(),
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
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckpointMismatch {
            path: path.to_path_buf(),
            mismatches: problems,
        })
    }
}

/// Loads weights saved by [`save`] (or dfdx's `save_safetensors`) into
/// `model`. On any error the model is left unchanged.
pub fn load<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(model, &bytes, path)
}

/// [`load`] from bytes in memory; `path` only names the source in errors.
pub fn load_bytes<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &mut M,
    bytes: &[u8],
    path: &Path,
) -> Result<()> {
    check_bytes(model, bytes, path)?;
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
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
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
