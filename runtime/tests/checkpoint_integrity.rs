//! Checkpoint integrity: per-tensor checksums catch flipped bits (naming the
//! tensor), non-finite weights are refused unless opted in, files without
//! checksums still load, another model's file is one line, 1,000 random
//! corruptions never load different weights, and `kill -9` during a save
//! loop never damages the previous checkpoint nor leaves temp files behind
//! after the next save.

#[path = "train_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dfdx::prelude::*;
use support::*;
use sxima_runtime::train::checkpoint::{self, load, load_bytes, save, LoadOptions};
use sxima_runtime::train::ModelFile;
use sxima_runtime::{Error, Model};

fn build<const H: usize>(seed: u64) -> Blob<H> {
    <Blob<H> as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(seed))
}

/// A tiny seeded generator (xorshift64*), so the fuzz cases are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Length of the safetensors header (8-byte length prefix plus JSON).
fn header_len(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

/// Byte offset in the file of the first data byte of `tensor`.
fn data_offset(bytes: &[u8], tensor: &str) -> usize {
    let (_, meta) = ::safetensors::SafeTensors::read_metadata(bytes).unwrap();
    header_len(bytes) + meta.tensors()[tensor].data_offsets.0
}

#[test]
fn a_flipped_bit_in_a_tensor_is_an_error_naming_it() {
    let dir = temp_dir("integrity-flip");
    let path = dir.join("m.safetensors");
    let a = build::<8>(1);
    save(&a, &path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip the top exponent bit of fc2.weight[0]: a small weight becomes ~1e38.
    let at = data_offset(&bytes, "fc2.weight") + 3;
    bytes[at] ^= 0x40;
    let mut b = build::<8>(2);
    let before = params(&b);
    let e = load_bytes(&mut b, &bytes, &path).unwrap_err();
    assert!(
        matches!(&e, Error::ChecksumMismatch { tensor, .. } if tensor == "fc2.weight"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("tensor fc2.weight is corrupt (checksum "),
        "{e}"
    );
    assert_eq!(
        params(&b),
        before,
        "a failed load must leave the model alone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_without_checksums_still_load() {
    let dir = temp_dir("integrity-plain");
    let path = dir.join("dfdx.safetensors");
    let a = build::<8>(1);
    a.save_safetensors(&path).unwrap(); // dfdx's writer: no sxima metadata
    assert!(checkpoint::read_metadata(&path).unwrap().is_empty());
    let mut b = build::<8>(2);
    load(&mut b, &path).unwrap();
    assert_eq!(params(&a), params(&b));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_finite_weights_are_refused_unless_opted_in() {
    let dir = temp_dir("integrity-nan");
    let path = dir.join("nan.safetensors");
    let mut a = build::<8>(1);
    let mut w = a.fc1.weight.as_vec();
    w[5] = f32::NAN;
    a.fc1.weight.copy_from(&w);
    save(&a, &path).unwrap(); // checksums are right: the NaN is in the model
    let mut b = build::<8>(2);
    let e = load(&mut b, &path).unwrap_err();
    assert!(
        matches!(&e, Error::NonFiniteWeight { tensor, index: 5, .. } if tensor == "fc1.weight"),
        "{e}"
    );
    assert!(e.to_string().contains("fc1.weight[5] is NaN"), "{e}");
    let e = Blob::<8>::load(&path, &Cpu::default()).unwrap_err();
    assert!(matches!(e, Error::NonFiniteWeight { .. }), "{e}");
    let opts = LoadOptions::new().allow_non_finite(true);
    checkpoint::load_with(&mut b, &path, &opts).unwrap();
    assert!(b.fc1.weight.as_vec()[5].is_nan());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_models_file_is_one_line() {
    let dir = temp_dir("integrity-identity");
    let path = dir.join("blob8.safetensors");
    let a = build::<8>(1);
    a.save(&path).unwrap();
    let dev = Cpu::default();
    let back = Blob::<8>::load(&path, &dev).unwrap();
    assert_eq!(params(&a), params(&back));
    let e = Mlp::<f32, Cpu>::load(&path, &dev).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::WrongModel { .. }), "{msg}");
    assert!(
        msg.ends_with(
            "this file holds a `Blob` (input [2], output [2], 42 params), \
             not a `Mlp` (input [1, 28, 28], output [10], 25,450 params)"
        ),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);
    // Same name, other size (a changed definition): also one line.
    let e = Blob::<16>::load(&path, &dev).unwrap_err().to_string();
    assert!(e.contains("holds a `Blob` (input [2], output [2], 42 params), not a `Blob` (input [2], output [2], 82 params)"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1,000 seeded corruptions of a small checkpoint (truncations, bit flips in
/// the header and in the data, a few multi-bit ones): each load is an error
/// (leaving the model untouched) or gives bit-identical weights; none panics.
#[test]
fn fuzzed_checkpoints_never_load_different_weights() {
    let dir = temp_dir("integrity-fuzz");
    let path = dir.join("fuzz.safetensors");
    let original = build::<8>(1);
    original.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let want: Vec<u32> = params(&original).iter().map(|v| v.to_bits()).collect();
    let hlen = header_len(&good);
    let mut rng = Rng(0x5eed_cafe);
    let (mut errors, mut identical) = (0, 0);
    for case in 0..1000 {
        let mut bytes = good.clone();
        let kind = case % 4;
        match kind {
            0 => bytes.truncate(rng.below(good.len())),
            1 => bytes[rng.below(hlen)] ^= 1 << rng.below(8),
            2 => bytes[hlen + rng.below(good.len() - hlen)] ^= 1 << rng.below(8),
            _ => {
                for _ in 0..1 + rng.below(4) {
                    bytes[rng.below(good.len())] ^= 1 << rng.below(8);
                }
            }
        }
        let mut target = build::<8>(2);
        let before = params(&target);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r = load_bytes(&mut target, &bytes, Path::new("fuzz"));
            (r, params(&target))
        }));
        let (r, after) = result.unwrap_or_else(|_| panic!("case {case} (kind {kind}) panicked"));
        match r {
            Err(_) => {
                assert_eq!(
                    after, before,
                    "case {case}: a failed load changed the model"
                );
                errors += 1;
            }
            Ok(()) => {
                let got: Vec<u32> = after.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "case {case} (kind {kind}) loaded other weights");
                identical += 1;
            }
        }
        // The typed loader must agree (it also checks the model's identity).
        let typed = std::panic::catch_unwind(|| {
            sxima_runtime::train::model_file::model_from_bytes::<f32, Cpu, Blob<8>>(
                &bytes,
                Path::new("fuzz"),
                &Cpu::default(),
                &LoadOptions::default(),
            )
            .map(|m| params(&m))
        })
        .unwrap_or_else(|_| panic!("case {case}: typed load panicked"));
        if let Ok(p) = typed {
            let got: Vec<u32> = p.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "case {case}: typed load gave other weights");
        }
    }
    assert_eq!(errors + identical, 1000);
    assert!(
        errors > 900,
        "only {errors} of 1,000 corruptions were errors"
    );
    println!("fuzz: {errors} errors, {identical} identical loads");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Names of the temporary files of `target` in its folder.
fn temps(dir: &Path, target: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{target}.tmp.")))
        .collect()
}

#[test]
fn the_next_save_removes_temp_files_of_dead_processes() {
    let dir = temp_dir("integrity-stale");
    let path = dir.join("m.safetensors");
    // A pid that surely is dead: a child that has exited and been reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.join(format!(".m.safetensors.tmp.{dead}.0"));
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    let other = dir.join(format!(".other.safetensors.tmp.{dead}.0"));
    std::fs::write(&other, b"another target's").unwrap();
    save(&build::<8>(1), &path).unwrap();
    assert_eq!(temps(&dir, "m.safetensors"), Vec::<String>::new());
    assert!(other.exists(), "only temp files of the saved target go");
    let _ = std::fs::remove_dir_all(&dir);
}

const CHILD_ENV: &str = "SXIMA_TEST_SAVE_LOOP";

/// `kill -9` at random moments of a save loop in a child process (this test
/// binary re-executed): the checkpoint always loads intact (one of the two
/// models the child alternates), and the next save leaves no temp file.
#[test]
fn kill_during_save_loop_keeps_the_previous_checkpoint() {
    if let Some(target) = std::env::var_os(CHILD_ENV) {
        // Child: save two different models to the same target, forever.
        let (a, b) = (
            <Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(1)),
            <Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(2)),
        );
        loop {
            a.save(&target).unwrap();
            b.save(&target).unwrap();
        }
    }
    let dir = temp_dir("integrity-kill");
    let path = dir.join("ck.safetensors");
    let dev = Cpu::default();
    let want = [
        params(&<Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(1))),
        params(&<Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(2))),
    ];
    let mut rng = Rng(0x6b11);
    let mut left_behind = 0;
    for round in 0..6 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_during_save_loop_keeps_the_previous_checkpoint",
                "--nocapture",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !path.exists() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(5 + rng.below(60) as u64));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let loaded = Mlp::<f32, Cpu>::load(&path, &dev)
            .unwrap_or_else(|e| panic!("round {round}: checkpoint damaged: {e}"));
        let p = params(&loaded);
        assert!(p == want[0] || p == want[1], "round {round}: other weights");
        left_behind += temps(&dir, "ck.safetensors").len();
    }
    // The next save (by a live process) cleans up after the killed ones.
    <Mlp as Model<f32, Cpu>>::build(&Cpu::seed_from_u64(1))
        .save(&path)
        .unwrap();
    assert_eq!(temps(&dir, "ck.safetensors"), Vec::<String>::new());
    println!("kill -9: {left_behind} temp files left by 6 killed savers, all removed");
    let _ = std::fs::remove_dir_all(&dir);
}
