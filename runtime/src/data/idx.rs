//! The IDX file format (the format of the MNIST files): a 4-byte magic
//! `00 00 <type> <ndims>`, `ndims` big-endian `u32` dimensions, then the
//! values. Only unsigned bytes (type `0x08`) are supported, which is what
//! MNIST and its relatives use. Files may be gzip-compressed (detected by the
//! gzip magic `1f 8b`, not by the file name).
//!
//! Every malformation (wrong magic, wrong rank, a truncated file, trailing
//! bytes) is an [`Error::DataFormat`] naming the file and the byte counts, never a
//! panic.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Magic of an IDX file of unsigned-byte images (`[n, rows, cols]`).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned-byte labels (`[n]`).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions from the header, e.g. `[10000, 28, 28]`.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads a file's bytes, gunzipping it when it starts with `1f 8b`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::data(
                    path.display(),
                    "a complete gzip stream",
                    format!(
                        "a corrupt or truncated one ({e}) after {} decompressed bytes",
                        out.len()
                    ),
                )
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes. `name` is used in error messages (usually the path).
/// `expect_magic` rejects any other magic number (type and rank).
pub fn parse(bytes: &[u8], name: &str, expect_magic: Option<u32>) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(Error::data(
            name,
            "an IDX header of at least 4 bytes",
            format!("{} bytes (too short)", bytes.len()),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if let Some(want) = expect_magic {
        if magic != want {
            return Err(Error::data(
                name,
                format!("magic number {want:#010x}"),
                format!("magic number {magic:#010x}"),
            ));
        }
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::data(
            name,
            "an IDX magic number (first two bytes 0)",
            format!("magic number {magic:#010x}, not an IDX magic"),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(Error::data(
            name,
            "IDX element type 0x08 (unsigned byte, the only one supported)",
            format!("element type {:#04x}", bytes[2]),
        ));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(Error::data(
            name,
            format!("a header of {header} bytes for {rank} dimensions"),
            format!("{} bytes (truncated header)", bytes.len()),
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let values = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::data(
                name,
                "dimensions whose product fits usize",
                format!("{dims:?} (overflow)"),
            )
        })?;
    let expected = header + values;
    if bytes.len() != expected {
        let what = if bytes.len() < expected {
            "truncated"
        } else {
            "has trailing bytes"
        };
        return Err(Error::data(
            name,
            format!("{expected} bytes (header {dims:?})"),
            format!("{} bytes ({what})", bytes.len()),
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads any unsigned-byte IDX file (gzip or plain).
pub fn read(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    parse(&read_bytes(path)?, &path.display().to_string(), None)
}

/// Reads an images file (magic `0x0803`, dims `[n, rows, cols]`).
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    parse(
        &read_bytes(path)?,
        &path.display().to_string(),
        Some(IMAGES_MAGIC),
    )
}

/// Reads a labels file (magic `0x0801`, dims `[n]`).
pub fn read_labels(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    parse(
        &read_bytes(path)?,
        &path.display().to_string(),
        Some(LABELS_MAGIC),
    )
}

/// Serialises an unsigned-byte IDX array (the inverse of [`parse`]); used to
/// write test files and small derived datasets.
pub fn to_bytes(array: &IdxArray) -> Result<Vec<u8>> {
    if array.dims.len() > 255 {
        return Err(Error::data(
            "IDX array",
            "at most 255 dimensions",
            format!("{} dimensions", array.dims.len()),
        ));
    }
    let n: usize = array.dims.iter().product();
    if n != array.data.len() {
        return Err(Error::data(
            "IDX array",
            format!("{n} values for dims {:?}", array.dims),
            format!("{} values", array.data.len()),
        ));
    }
    let mut out = vec![0, 0, 0x08, array.dims.len() as u8];
    for &d in &array.dims {
        let d = u32::try_from(d).map_err(|_| {
            Error::data(
                "IDX array",
                "dimensions that fit u32",
                format!("dimension {d}"),
            )
        })?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let a = IdxArray {
            dims: vec![2, 3],
            data: vec![1, 2, 3, 4, 5, 6],
        };
        let b = to_bytes(&a).unwrap();
        assert_eq!(&b[..4], &[0, 0, 8, 2]);
        assert_eq!(parse(&b, "x", None).unwrap(), a);
        let e = parse(&b[..b.len() - 2], "x", None).unwrap_err().to_string();
        assert_eq!(
            e,
            "x: expected 18 bytes (header [2, 3]), found 16 bytes (truncated)"
        );
        let e = parse(&b, "x", Some(IMAGES_MAGIC)).unwrap_err().to_string();
        assert!(
            e.contains("expected magic number 0x00000803, found magic number 0x00000802"),
            "{e}"
        );
        assert!(parse(&b[..5], "x", None)
            .unwrap_err()
            .to_string()
            .contains("truncated header"));
        assert!(parse(&[], "x", None).is_err());
    }
}
