//! The AVX-512 kernels of [`sgemm`](super::sgemm): the `MR x NR` microkernel
//! on packed panels and the direct kernels for products of a few rows.
//!
//! Every function here is `#[target_feature(enable = "avx512f")]` and must
//! only be called after `is_x86_feature_detected!("avx512f")`.

use core::arch::x86_64::*;

use super::{Block, MR, NR, SMALL_M};

/// Lane mask of the first `n` lanes of 16 (`n >= 16`: all).
#[inline(always)]
pub(crate) fn lanes(n: usize) -> __mmask16 {
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
pub(super) const AXPY_NB: usize = 64;

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
        let masks: [__mmask16; 4] = core::array::from_fn(|h| lanes(nb.saturating_sub(16 * h)));
        let mut acc = [[_mm512_setzero_ps(); 4]; SMALL_M];
        for p in 0..k {
            // SAFETY: row `p < k` of B, columns `j0..j0 + nb` (masked).
            let bp = unsafe { b.add(p * b_rs + j0) };
            let bv: [__m512; 4] = core::array::from_fn(|h| unsafe {
                _mm512_maskz_loadu_ps(masks[h], bp.add(16 * h))
            });
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

/// Rows and columns of C per tile of [`dot_tiles`].
const DOT_T: usize = 4;

/// Columns `j0..j1` of `C (+)= A x B` with A's rows and B's columns
/// contiguous (`A[i, p]` at `a + i * a_rs + p`, `B[p, j]` at `b + col(j) + p`:
/// the `x W^T` of a dense layer with `W` row-major and `col(j) = j * k`, or
/// `dY x cols^T` with B's columns the shifted views of a padded image), each
/// element a dot product. Tiles of 4 x 4 elements: for each 4 columns of C
/// (4 rows of B^T, kept in L1) every 4 rows of A stream by.
///
/// # Safety
/// AVX-512F available; all operands in bounds for `m` rows, `k >= 1` depths
/// and columns `j0..j1`; no other thread touches those columns of C.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dot_tiles(
    (m, k): (usize, usize),
    (j0, j1): (usize, usize),
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: usize,
    b: *const f32,
    col: impl Fn(usize) -> usize,
) {
    let mut jt = j0;
    while jt < j1 {
        let jb = DOT_T.min(j1 - jt);
        // Where the tile's columns start (a short tile repeats its last).
        let starts: [*const f32; DOT_T] =
            core::array::from_fn(|j| b.wrapping_add(col(jt + j.min(jb - 1))));
        let mut it = 0;
        while it < m {
            let ib = DOT_T.min(m - it);
            let mut acc = [[_mm512_setzero_ps(); DOT_T]; DOT_T];
            let mut p = 0;
            while p < k {
                let mask = lanes(k - p);
                // SAFETY: depths `p..p + 16` masked to `< k` of columns
                // `jt + min(j, jb - 1) < j1`.
                let bv: [__m512; DOT_T] = core::array::from_fn(|j| unsafe {
                    _mm512_maskz_loadu_ps(mask, starts[j].add(p))
                });
                for (i, row) in acc.iter_mut().enumerate() {
                    if i < ib {
                        // SAFETY: row `it + i < m`, depths masked to `< k`.
                        let av = unsafe { _mm512_maskz_loadu_ps(mask, a.add((it + i) * a_rs + p)) };
                        for j in 0..DOT_T {
                            row[j] = _mm512_fmadd_ps(av, bv[j], row[j]);
                        }
                    }
                }
                p += 16;
            }
            // Lane `4 j + i` is the sum of `acc[i][j]`.
            let mut sums = [0f32; 16];
            // SAFETY: 16 values into `sums`.
            unsafe { _mm512_storeu_ps(sums.as_mut_ptr(), sum_each(acc)) };
            for i in 0..ib {
                for j in 0..jb {
                    let s = sums[4 * j + i];
                    // SAFETY: row `it + i < m`, column `jt + j < j1`.
                    unsafe {
                        let p = c.add((it + i) * c_rs + jt + j);
                        *p = if accumulate { *p + s } else { s };
                    }
                }
            }
            it += DOT_T;
        }
        jt += DOT_T;
    }
}

/// The 16 sums of the lanes of `acc[i][j]` at once, in lane `4 j + i` (a
/// tree of 15 shuffle-and-add steps: each halves the lanes that hold one
/// vector's partial sums, where 16 separate horizontal sums take 4 steps each).
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_each(acc: [[__m512; DOT_T]; DOT_T]) -> __m512 {
    const _: () = assert!(DOT_T == 4);
    let v: [__m512; 16] = core::array::from_fn(|t| acc[t / 4][t % 4]);
    // 16 -> 8: quarters 0-1 hold `v[2u]`'s sums, 2-3 `v[2u + 1]`'s.
    let l1: [__m512; 8] = core::array::from_fn(|u| {
        let (a, b) = (v[2 * u], v[2 * u + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
        )
    });
    // 8 -> 4: quarter `q` of `l2[u]` holds `v[4u + q]`'s sums.
    let l2: [__m512; 4] = core::array::from_fn(|u| {
        let (a, b) = (l1[2 * u], l1[2 * u + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
        )
    });
    // 4 -> 2: in quarter `q` of `l3[u]`, lanes 0-1 hold `v[8u + q]`'s
    // sums, lanes 2-3 `v[8u + 4 + q]`'s.
    let l3: [__m512; 2] = core::array::from_fn(|u| {
        let (a, b) = (l2[2 * u], l2[2 * u + 1]);
        _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(a, b),
            _mm512_shuffle_ps::<0b11_10_11_10>(a, b),
        )
    });
    // 2 -> 1: lane `t` of quarter `q` holds `v[4t + q]`'s sum.
    _mm512_add_ps(
        _mm512_shuffle_ps::<0b10_00_10_00>(l3[0], l3[1]),
        _mm512_shuffle_ps::<0b11_01_11_01>(l3[0], l3[1]),
    )
}

/// The 8 x 8 transpose of `r` (row `i` becomes column `i`).
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // Register-only AVX operations (AVX-512F implies AVX).
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xee>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xee>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xee>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xee>(t[5], t[7]),
    ];
    [
        _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
        _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
    ]
}

/// Transposes 8 lines of `src` into `dst`: line `i` (`< lines`; the others
/// read as zero) holds 8 values at `src + i * stride + q`, and `dst + q * dst_stride`
/// receives the 8 values of index `q` of lines 0..8, for `q < depth` (<= 8).
///
/// # Safety
/// AVX-512F available; the reads and writes named above are in bounds.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose_block(
    src: *const f32,
    stride: usize,
    lines: usize,
    depth: usize,
    dst: *mut f32,
    dst_stride: usize,
) {
    if depth == 8 {
        let r: [__m256; 8] = core::array::from_fn(|i| {
            if i < lines {
                // SAFETY: line `i < lines`, 8 values (contract).
                unsafe { _mm256_loadu_ps(src.add(i * stride)) }
            } else {
                _mm256_setzero_ps()
            }
        });
        for (q, v) in transpose8(r).into_iter().enumerate() {
            // SAFETY: `q < 8 = depth` (contract).
            unsafe { _mm256_storeu_ps(dst.add(q * dst_stride), v) };
        }
    } else {
        for q in 0..depth {
            for i in 0..8 {
                // SAFETY: line `i < lines`, index `q < depth` (contract).
                unsafe {
                    *dst.add(q * dst_stride + i) = if i < lines {
                        *src.add(i * stride + q)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Packs one A panel from row-major A (`A[i, p]` at `a + i * a_rs + p`):
/// `panel[p * MR + i] = A[i, p]` for `p < kc`, rows `i >= rows` zero
/// (8 x 8 transposes in registers).
///
/// # Safety
/// AVX-512F available; `panel` holds `kc * MR` values; `A[i, p]` readable
/// for `i < rows <= MR`, `p < kc`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_a_rows(
    panel: &mut [f32],
    a: *const f32,
    a_rs: usize,
    kc: usize,
    rows: usize,
) {
    const _: () = assert!(MR == 8);
    assert!(panel.len() >= kc * MR && rows <= MR);
    let out = panel.as_mut_ptr();
    for p in (0..kc).step_by(8) {
        // SAFETY: lines are rows `< rows`, indices depths `p..p + 8` clipped
        // to `kc`; writes `panel[(p + q) * MR .. + 8]`, inside `panel`.
        unsafe { transpose_block(a.add(p), a_rs, rows, 8.min(kc - p), out.add(p * MR), MR) };
    }
}

/// Packs one B panel from B with unit row stride (`B[p, j]` at `b + j * b_cs + p`):
/// `panel[p * NR + j] = B[p, j]` for `p < kc`, columns `j >= cols` zero
/// (8 x 8 transposes in registers).
///
/// # Safety
/// AVX-512F available; `panel` holds `kc * NR` values; `B[p, j]` readable for
/// `p < kc`, `j < cols <= NR`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_b_cols(
    panel: &mut [f32],
    b: *const f32,
    b_cs: usize,
    kc: usize,
    cols: usize,
) {
    assert!(panel.len() >= kc * NR && cols <= NR);
    let out = panel.as_mut_ptr();
    for j0 in (0..NR).step_by(8) {
        let lines = cols.saturating_sub(j0).min(8);
        for p in (0..kc).step_by(8) {
            // SAFETY: lines are columns `j0 + i < cols` (none read when
            // `lines == 0`, hence `wrapping_add`), indices depths
            // `p..p + 8` clipped to `kc`; writes `panel[(p + q) * NR + j0 .. + 8]`.
            unsafe {
                transpose_block(
                    b.wrapping_add(j0 * b_cs + p),
                    b_cs,
                    lines,
                    8.min(kc - p),
                    out.add(p * NR + j0),
                    NR,
                )
            };
        }
    }
}

/// Rows of C per tile of [`tall_axpy`] (6 x 4 zmm accumulators: 24 of the
/// 32 registers, with 4 for B's row and 1 for A's broadcast).
pub(super) const TALL_MR: usize = 6;

/// `C (+)= A x B` for any number of rows with B's columns contiguous
/// (`B[p, j]` at `p * b_rs + j`), without packing: blocks of 64 columns
/// outside, tiles of [`TALL_MR`] rows inside, so one block of B (`k x 64`)
/// is read from cache by every row tile (where [`small_rows_axpy`] on 4
/// rows at a time streams all of B per 4 rows). Every element of C is
/// summed over `p = 0..k` in order, as in [`small_rows_axpy`].
///
/// # Safety
/// AVX-512F available; all operands in bounds for their sizes and strides;
/// `m >= 1`, `k >= 1`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tall_axpy(
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
        let block = Block::contiguous(j0, AXPY_NB.min(n - j0));
        // SAFETY: columns `j0..j0 + nb` of every row of B and C (contract).
        unsafe {
            block_rows(
                &block,
                m,
                k,
                (c, c_rs, accumulate),
                a,
                (a_rs, a_cs),
                b,
                |p| p * b_rs,
            )
        };
        j0 += AXPY_NB;
    }
}

/// `C (+)= A x B` where B's row `p` starts at `b + row_offsets[p]` and the
/// columns of C come in `blocks` of up to 64 ([`Block`]: where each of its
/// 16-lane vectors reads B's row and writes C's row; the shifted views of
/// a padded image in a convolution, whose output rows are shorter than the
/// padded ones); tiles of [`TALL_MR`] rows as [`tall_axpy`], every element
/// of C summed over `p = 0..k` in order.
///
/// # Safety
/// AVX-512F available; A (`m x k`, strides `(a_rs, a_cs)`) in bounds; for
/// every block vector with `len > 0`, C's rows `0..m` at `dst..dst + len`
/// and every `row_offsets[p] + src..+ len` inside their allocations;
/// `m >= 1`, `k = row_offsets.len() >= 1`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn row_table_axpy(
    m: usize,
    blocks: &[Block],
    (c, c_rs, accumulate): (*mut f32, usize, bool),
    a: *const f32,
    (a_rs, a_cs): (usize, usize),
    b: *const f32,
    row_offsets: &[usize],
) {
    let k = row_offsets.len();
    for block in blocks {
        // SAFETY: forwarded contract; `get_unchecked`: `p < k = row_offsets.len()`.
        unsafe {
            block_rows(
                block,
                m,
                k,
                (c, c_rs, accumulate),
                a,
                (a_rs, a_cs),
                b,
                |p| *row_offsets.get_unchecked(p),
            )
        };
    }
}

/// Every row tile of one block: rows `0..m` of C in tiles of [`TALL_MR`].
///
/// # Safety
/// As [`axpy_tile`] for every tile.
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn block_rows(
    block: &Block,
    m: usize,
    k: usize,
    (c, c_rs, accumulate): (*mut f32, usize, bool),
    a: *const f32,
    (a_rs, a_cs): (usize, usize),
    b: *const f32,
    row: impl Fn(usize) -> usize + Copy,
) {
    let mut i0 = 0;
    while i0 < m {
        let rows = TALL_MR.min(m - i0);
        // SAFETY: rows `i0..i0 + rows` of A and C (contract).
        unsafe {
            let args = TileArgs {
                k,
                c: c.add(i0 * c_rs),
                c_rs,
                accumulate,
                a: a.add(i0 * a_rs),
                a_strides: (a_rs, a_cs),
                b,
            };
            tile_rows(rows, block, args, row);
        }
        i0 += rows;
    }
}

/// [`axpy_tile`] for `rows` (1 to [`TALL_MR`]) rows.
///
/// # Safety
/// As [`axpy_tile`].
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile_rows(rows: usize, block: &Block, args: TileArgs, row: impl Fn(usize) -> usize) {
    // SAFETY: forwarded contract.
    unsafe {
        match rows {
            6 => axpy_tile::<6>(block, args, row),
            5 => axpy_tile::<5>(block, args, row),
            4 => axpy_tile::<4>(block, args, row),
            3 => axpy_tile::<3>(block, args, row),
            2 => axpy_tile::<2>(block, args, row),
            _ => axpy_tile::<1>(block, args, row),
        }
    }
}

/// The operands of one [`axpy_tile`] besides its block.
#[derive(Clone, Copy)]
struct TileArgs {
    k: usize,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_strides: (usize, usize),
    b: *const f32,
}

/// One tile: `C[0..R, block] (+)= A[0..R, 0..k] x B[0..k, block]`, B's row
/// `p` at `b + row(p)`, C's tile in registers while B's rows stream by.
///
/// # Safety
/// AVX-512F available; the named elements are in bounds.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn axpy_tile<const R: usize>(
    block: &Block,
    TileArgs {
        k,
        c,
        c_rs,
        accumulate,
        a,
        a_strides: (a_rs, a_cs),
        b,
    }: TileArgs,
    row: impl Fn(usize) -> usize,
) {
    let masks: [__mmask16; 4] = core::array::from_fn(|h| lanes(block.len[h]));
    let src = block.src;
    let mut acc = [[_mm512_setzero_ps(); 4]; R];
    if block.len == [16; 4] {
        for p in 0..k {
            // SAFETY: row `p < k` of B, 16 values at each `src[h]`.
            let bp = unsafe { b.add(row(p)) };
            let bv: [__m512; 4] =
                core::array::from_fn(|h| unsafe { _mm512_loadu_ps(bp.add(src[h])) });
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: `i < R`, `p < k`.
                let ai = _mm512_set1_ps(unsafe { *a.add(i * a_rs + p * a_cs) });
                for h in 0..4 {
                    row[h] = _mm512_fmadd_ps(ai, bv[h], row[h]);
                }
            }
        }
    } else {
        for p in 0..k {
            // SAFETY: row `p < k` of B, lanes masked to `len[h]` at `src[h]`.
            let bp = unsafe { b.add(row(p)) };
            let bv: [__m512; 4] = core::array::from_fn(|h| unsafe {
                _mm512_maskz_loadu_ps(masks[h], bp.add(src[h]))
            });
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: `i < R`, `p < k`.
                let ai = _mm512_set1_ps(unsafe { *a.add(i * a_rs + p * a_cs) });
                for h in 0..4 {
                    row[h] = _mm512_fmadd_ps(ai, bv[h], row[h]);
                }
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for h in 0..4 {
            // SAFETY: row `i < R`, lanes masked to `len[h]` at `dst[h]`.
            unsafe {
                let p = c.add(i * c_rs + block.dst[h]);
                let v = if accumulate {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(masks[h], p), row[h])
                } else {
                    row[h]
                };
                _mm512_mask_storeu_ps(p, masks[h], v);
            }
        }
    }
}
