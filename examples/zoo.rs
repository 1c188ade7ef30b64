//! The model zoo (`sxima::zoo`): one line per architecture with its
//! parameter count, GMACs per image (224x224; LeNet-5 32x32), output shape
//! and inference milliseconds at batch 1.
//!
//! ```text
//! cargo run --release --example zoo                 # the table
//! cargo run --release --example zoo -- --check DIR  # compare with torchvision
//! cargo run --example zoo -- --quick                # CI: LeNet-5 only, one forward
//! ```
//!
//! Each model is compiled in its own crate (`zoo/<name>/`) and reached here
//! through `sxima::zoo::ALL`, its non-generic constructors: this program
//! instantiates no model type, so editing one architecture recompiles that
//! architecture alone (`docs/compile_time.md`).
//!
//! `--check DIR` loads `DIR/<name>.safetensors` (a torchvision state dict)
//! into the typed model by name, runs `DIR/<name>_io.safetensors`'s `input`
//! and compares the logits with its `output`, printing the max relative
//! difference `max |ours - torch| / max |torch|`. Make the files with
//! `python shared/torch/export_torchvision.py NAME DIR`; an architecture
//! whose files are missing is reported and skipped. ZFNet has no reference.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sxima::prelude::*;
use sxima::zoo::{DynModel, ZooEntry};

/// What to do with each architecture.
#[derive(Clone)]
enum Mode {
    /// Time `runs` forwards at batch 1 (after one warm-up).
    Table { runs: usize },
    /// Compare with the torchvision files in the folder.
    Check(PathBuf),
}

/// The f32 tensor `key` of a safetensors file, with its shape.
fn read_tensor(path: &Path, key: &str) -> sxima::Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = ::safetensors::tensor::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::corrupt(path, format!("not safetensors: {e:?}")))?;
    let t = file
        .tensor(key)
        .map_err(|_| Error::corrupt(path, format!("no tensor `{key}`")))?;
    if t.dtype() != ::safetensors::Dtype::F32 {
        return Err(Error::corrupt(
            path,
            format!("`{key}` is {:?}, not F32", t.dtype()),
        ));
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((t.shape().to_vec(), values))
}

/// `max |a - b| / max |b|` and `max |a - b|`.
fn max_rel_diff(ours: &[f32], reference: &[f32]) -> (f64, f64) {
    let scale = reference
        .iter()
        .fold(0.0f64, |m, v| m.max((*v as f64).abs()));
    let abs = ours
        .iter()
        .zip(reference)
        .fold(0.0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    (abs / scale.max(f64::MIN_POSITIVE), abs)
}

/// `(batch, ..shape)` for a flat output of `len` values.
fn batch_shape(len: usize, shape: &[usize]) -> Vec<usize> {
    let per_sample: usize = shape.iter().product();
    let mut out = vec![len / per_sample.max(1)];
    out.extend_from_slice(shape);
    out
}

/// One architecture: its table line, or its comparison with torchvision.
fn run(entry: &ZooEntry, mode: &Mode) -> sxima::Result<()> {
    let name = entry.name;
    let dev = Cpu::seed_from_u64(0);
    match mode {
        Mode::Table { runs } => {
            let model: Box<dyn DynModel<f32, Cpu>> = (entry.build)(&dev)?;
            let len: usize = model.sample_input_shape().iter().product();
            let x = dev.sample_normal_like(&(len,));
            let y = model.try_forward_flat(x.clone())?; // warm-up
            let out = batch_shape(y.shape().0, model.sample_output_shape());
            let mut best = f64::INFINITY;
            for _ in 0..*runs {
                let t = Instant::now();
                let _ = model.try_forward_flat(x.clone())?;
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            let gmacs = model.macs() as f64 / 1e9;
            let gmacs = if gmacs < 0.1 {
                format!("{gmacs:.4}")
            } else {
                format!("{gmacs:.2}")
            };
            println!(
                "{name:<16} {:>13} {gmacs:>7} {:>12} {:>10.1}",
                sxima::runtime::model::thousands(model.param_count()),
                format!("{out:?}"),
                best
            );
        }
        Mode::Check(dir) => {
            let weights = dir.join(format!("{name}.safetensors"));
            let io = dir.join(format!("{name}_io.safetensors"));
            if !weights.exists() || !io.exists() {
                println!(
                    "{name:<16} skipped: no {} / {} (make them with export_torchvision.py {name} {})",
                    weights.display(),
                    io.display(),
                    dir.display()
                );
                return Ok(());
            }
            let model = (entry.load_state_dict)(&weights, &dev)?;
            let (in_shape, input) = read_tensor(&io, "input")?;
            let want_in = batch_shape(input.len(), model.sample_input_shape());
            if in_shape != want_in {
                return Err(Error::data(
                    format!("{name} input"),
                    format!("{want_in:?}"),
                    format!("{in_shape:?}"),
                ));
            }
            let (out_shape, expected) = read_tensor(&io, "output")?;
            let len = input.len();
            let y = model.try_forward_flat(dev.tensor_from_vec(input, (len,)))?;
            let got_shape = batch_shape(y.shape().0, model.sample_output_shape());
            if got_shape != out_shape {
                return Err(Error::data(
                    format!("{name} output"),
                    format!("{out_shape:?}"),
                    format!("{got_shape:?}"),
                ));
            }
            let (rel, abs) = max_rel_diff(&y.as_vec(), &expected);
            let verdict = if rel <= 1e-4 { "ok" } else { "TOO FAR" };
            println!(
                "{name:<16} max relative difference {rel:.2e} (max abs {abs:.2e}, {} logits) {verdict}",
                expected.len()
            );
        }
    }
    Ok(())
}

fn main() -> sxima::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let check = args
        .iter()
        .position(|a| a == "--check")
        .map(|i| args.get(i + 1).map(PathBuf::from));
    let mode = match check {
        Some(Some(dir)) => Mode::Check(dir),
        Some(None) => return Err(Error::config("--check", "", "needs a folder: --check DIR")),
        None => Mode::Table {
            runs: if quick { 1 } else { 3 },
        },
    };
    if let Mode::Table { .. } = mode {
        println!(
            "{:<16} {:>13} {:>7} {:>12} {:>10}",
            "model", "parameters", "GMACs", "output", "ms (b=1)"
        );
    }
    // `--quick` (CI): LeNet-5 only, the first entry.
    let entries = if quick {
        &sxima::zoo::ALL[..1]
    } else {
        &sxima::zoo::ALL[..]
    };
    for entry in entries {
        if entry.name == "zfnet" && matches!(mode, Mode::Check(_)) {
            println!("{:<16} no reference (not in torchvision)", "zfnet");
            continue;
        }
        run(entry, &mode)?;
    }
    Ok(())
}
