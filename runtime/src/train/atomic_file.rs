//! Durable file writes: [`atomic_write`] (a temporary file in the target's
//! folder, flushed, then renamed over the target, so a crash never leaves a
//! half-written file under the real name; afterwards temporary files of the
//! same target left by dead processes are removed) and
//! [`check_save_target`], which callbacks run before training starts.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

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
