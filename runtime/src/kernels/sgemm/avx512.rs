//! The AVX-512 kernels of [`sgemm`](super::sgemm): the `MR x NR` microkernel
//! on packed panels and the direct kernels for products of a few rows.
//!
//! Every function here is `#[target_feature(enable = "avx512f")]` and must
//! only be called after `is_x86_feature_detected!("avx512f")`.

use core::arch::x86_64::*;

use super::{MR, NR, SMALL_M};

/// Lane mask of the first `n` lanes of 16 (`n >= 16`: all).
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// `C[0..mr, 0..nr] (+)= A_panel x B_panel` over depth `kc`: A panel `kc x MR`
/// (depth-major), B panel `kc x NR`, both zero-padded; `load` adds the tile
/// to C's values instead of overwriting them.
///
/// # Safety
/// AVX-512F available; `a` holds `kc * MR` and `b` `kc * NR` values; C rows
/// `0..mr` (row stride `c_rs`), columns `0..nr` are valid for reads and writes;
/// `mr <= MR`, `nr <= NR`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn kernel_mr_nr(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    c_rs: usize,
    mr: usize,
    nr: usize,
    load: bool,
) {
    const _: () = assert!(MR == 8 && NR == 32);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // SAFETY: `p < kc`, so `b[p * NR .. p * NR + 32]` and `a[p * MR .. + 8]`
        // are inside the panels.
        let (b0, b1) = unsafe { (_mm512_loadu_ps(b), _mm512_loadu_ps(b.add(16))) };
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm512_set1_ps(unsafe { *a.add(i) });
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
        // SAFETY: one past the last element at most (not dereferenced).
        unsafe {
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    let masks = [lanes(nr), lanes(nr.saturating_sub(16))];
    for (i, row) in acc.iter().enumerate() {
        if i >= mr {
            break;
        }
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row `i < mr`, lanes masked to columns `< nr`.
            unsafe {
                let p = c.add(i * c_rs + 16 * h);
                let v = if load {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(masks[h], p), v)
                } else {
                    v
                };
                _mm512_mask_storeu_ps(p, masks[h], v);
            }
        }
    }
}

/// Columns per step of [`small_rows_axpy`] (four zmm registers per row).
const AXPY_NB: usize = 64;

/// `C (+)= A x B` for `m <= SMALL_M` rows with B's columns contiguous
/// (`B[p, j]` at `p * rhs_rs + j`), without packing: for each block of 64
/// columns the rows of C stay in registers while B's rows stream by.
///
/// # Safety
/// AVX-512F available; all operands in bounds for their sizes and strides;
/// `1 <= m <= SMALL_M`, `k >= 1`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn small_rows_axpy(
    (m, n, k): (usize, usize, usize),
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    a: *const f32,
    (a_rs, a_cs): (usize, usize),
    b: *const f32,
    b_rs: usize,
) {
    let mut j0 = 0;
    while j0 < n {
        let nb = AXPY_NB.min(n - j0);
        let masks: [__mmask16; 4] =
            core::array::from_fn(|h| lanes(nb.saturating_sub(16 * h)));
        let mut acc = [[_mm512_setzero_ps(); 4]; SMALL_M];
        for p in 0..k {
            // SAFETY: row `p < k` of B, columns `j0..j0 + nb` (masked).
            let bp = unsafe { b.add(p * b_rs + j0) };
            let bv: [__m512; 4] =
                core::array::from_fn(|h| unsafe { _mm512_maskz_loadu_ps(masks[h], bp.add(16 * h)) });
            for (i, row) in acc.iter_mut().enumerate() {
                if i < m {
                    // SAFETY: `i < m`, `p < k`.
                    let ai = _mm512_set1_ps(unsafe { *a.add(i * a_rs + p * a_cs) });
                    for h in 0..4 {
                        row[h] = _mm512_fmadd_ps(ai, bv[h], row[h]);
                    }
                }
            }
        }
        for (i, row) in acc.iter().enumerate().take(m) {
            for h in 0..4 {
                // SAFETY: row `i < m`, columns masked to `< n`.
                unsafe {
                    let p = c.add(i * c_rs + j0 + 16 * h);
                    let v = if accumulate {
                        _mm512_add_ps(_mm512_maskz_loadu_ps(masks[h], p), row[h])
                    } else {
                        row[h]
                    };
                    _mm512_mask_storeu_ps(p, masks[h], v);
                }
            }
        }
        j0 += nb;
    }
}

/// `C (+)= A x B` for `m <= SMALL_M` rows with A's rows and B's columns
/// contiguous (`A[i, p]` at `i * a_rs + p`, `B[p, j]` at `p + j * b_cs`: the
/// `x W^T` of a dense layer with `W` row-major): each element is a dot product.
///
/// # Safety
/// AVX-512F available; all operands in bounds for their sizes and strides;
/// `1 <= m <= SMALL_M`, `k >= 1`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn small_rows_dot(
    (m, n, k): (usize, usize, usize),
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: usize,
    b: *const f32,
    b_cs: usize,
) {
    /// Columns of C per step (their B columns are read together).
    const JB: usize = 2;
    let mut j0 = 0;
    while j0 < n {
        let jb = JB.min(n - j0);
        let mut acc = [[_mm512_setzero_ps(); JB]; SMALL_M];
        let mut p = 0;
        while p < k {
            let mask = lanes(k - p);
            // SAFETY: depth `p..p + 16` masked to `< k`; columns `j0 + j < n`.
            let bv: [__m512; JB] = core::array::from_fn(|j| {
                let j = j.min(jb - 1);
                unsafe { _mm512_maskz_loadu_ps(mask, b.add((j0 + j) * b_cs + p)) }
            });
            for (i, row) in acc.iter_mut().enumerate() {
                if i < m {
                    // SAFETY: row `i < m`, depth masked to `< k`.
                    let av = unsafe { _mm512_maskz_loadu_ps(mask, a.add(i * a_rs + p)) };
                    for j in 0..JB {
                        row[j] = _mm512_fmadd_ps(av, bv[j], row[j]);
                    }
                }
            }
            p += 16;
        }
        for (i, row) in acc.iter().enumerate().take(m) {
            for (j, &v) in row.iter().enumerate().take(jb) {
                let s = _mm512_reduce_add_ps(v);
                // SAFETY: row `i < m`, column `j0 + j < n`.
                unsafe {
                    let p = c.add(i * c_rs + j0 + j);
                    *p = if accumulate { *p + s } else { s };
                }
            }
        }
        j0 += jb;
    }
}
