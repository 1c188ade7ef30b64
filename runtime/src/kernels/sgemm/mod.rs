//! Our own f32 matrix product `C[m, n] (+)= A[m, k] x B[k, n]` for the CPU
//! kernels: strided A and B, row-major C with a row stride.
//!
//! Structure (the classic one): A is packed into `MR x kc` row panels and B
//! into `kc x NR` column panels ([`packed`]), `KC` deep blocks of k, `NC` wide
//! blocks of n; an AVX-512 `MR x NR` microkernel ([`avx512`]) multiplies one
//! A panel by one B panel into registers and adds them to C (masked at the
//! edges). Row-major A and transposed B are packed with 8 x 8 transposes in
//! registers.
//!
//! Two shapes skip packing:
//! * B's columns contiguous, with at most [`SMALL_M`] rows or depth at least
//!   [`AXPY_MIN_K`]: a direct kernel keeps 4 rows x 64 columns of C in
//!   registers while B's rows stream by (from cache); with more than
//!   [`SMALL_M`] rows, 6 x 64 tiles, every row tile of one 64-column block
//!   of B before the next block (`avx512::tall_axpy`: B's block stays in
//!   cache, where 4 rows at a time streamed all of B per 4 rows);
//! * A's rows and B's columns contiguous (`x W^T` with `W` row-major) with
//!   at most [`SMALL_M`] rows (batch-1 inference): 4 x 4 tiles of dot
//!   products (packing B^T would cost more than the product). With more
//!   rows the packed path is faster (MLP `x W^T` at batch 64: 1-thread
//!   inference 189k vs 168k samples/s; cnn `dY x cols^T`: 57 vs 31 GFLOP/s).
//!
//! Threading splits the columns of C over the kernels' `team`, never k: every element of
//! C is summed by one task in an order fixed by k (and `KC`), whatever the
//! thread count, so results are bit-identical.
//!
//! Without AVX-512F (detected at run time) or on non-x86 targets the `gemm`
//! crate does the product.
// Without x86-64 only the fallback runs.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

#[cfg(target_arch = "x86_64")]
mod avx512;
/// The AVX-512 lane mask, shared with the other AVX-512 kernels.
#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::lanes;
#[cfg(target_arch = "x86_64")]
mod packed;
#[cfg(test)]
mod tests;

use crate::kernels::gemm_cpu::{self, GemmArgs};

/// Rows of an A panel (and of the microkernel's tile).
pub(crate) const MR: usize = 8;
/// Columns of a B panel (two zmm registers).
pub(crate) const NR: usize = 32;
/// Depth of one block of k (an A panel of `MR x KC` is 8 KB: stays in L1).
pub(crate) const KC: usize = 256;
/// Width of one packed block of B (`KC x NC` = 512 KB: stays in L2).
pub(crate) const NC: usize = 512;
/// Products with at most this many rows take the direct (unpacked) kernels.
pub(crate) const SMALL_M: usize = 4;
/// Depth from which products with B's columns contiguous take the direct
/// (unpacked) kernel, 4 rows of C at a time, whatever their number of rows:
/// it streams B from cache and skips packing; on shorter products C's
/// loads and stores dominate (micro-benchmark: `tests::sgemm_vs_gemm_crate`).
pub(crate) const AXPY_MIN_K: usize = 64;
/// Fewest multiply-adds one task gets when a product is split.
const MIN_FMAS_PER_TASK: usize = 1 << 19;
/// Tasks per thread a product is split into (as its size allows): threads
/// claim them as they come free, so a thread that the OS (or a hypervisor)
/// pauses for a while holds up only a small part of the product.
const TASKS_PER_THREAD: usize = 4;

/// Which implementation [`sgemm_with`] may use (tests force each one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// AVX-512 when the CPU has it (the direct kernels where the layout and
    /// sizes favour them, see the module doc), else the `gemm` crate.
    Auto,
    /// Always the packed AVX-512 kernel (when the CPU has it).
    #[cfg_attr(not(test), allow(dead_code))]
    Packed,
    /// The dot-product kernel when A's rows and B's columns are contiguous
    /// (else as `Packed`).
    #[cfg_attr(not(test), allow(dead_code))]
    Dot,
    /// The direct kernel when B's columns are contiguous, 4 rows at a time
    /// (else as `Packed`).
    #[cfg_attr(not(test), allow(dead_code))]
    Axpy,
    /// The direct kernel when B's columns are contiguous, blocks of 64
    /// columns outside and tiles of 6 rows inside (else as `Packed`).
    #[cfg_attr(not(test), allow(dead_code))]
    Tall,
    /// The `gemm` crate.
    Fallback,
}

/// Knobs of [`sgemm_with`]; [`Opts::DEFAULT`] is what [`sgemm`] uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Opts {
    pub path: Path,
    /// Fewest multiply-adds per task (tests lower it to split small products).
    pub min_fmas_per_task: usize,
}

impl Opts {
    pub const DEFAULT: Opts = Opts {
        path: Path::Auto,
        min_fmas_per_task: MIN_FMAS_PER_TASK,
    };
}

/// Whether this CPU runs the AVX-512 kernels.
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The product `args` describes (see [`GemmArgs`]); `args.threaded` splits
/// large products over the kernels' team.
///
/// Panics if an operand's slice is too short for its sizes and strides.
pub(crate) fn sgemm(args: GemmArgs<'_, f32>) {
    sgemm_with(Opts::DEFAULT, args)
}

/// [`sgemm`] with explicit [`Opts`].
pub(crate) fn sgemm_with(opts: Opts, mut args: GemmArgs<'_, f32>) {
    if opts.path == Path::Fallback || !has_avx512() {
        return gemm_cpu::gemm_crate(args);
    }
    if !args.check_and_handle_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Copies of the sizes, strides and operand slices; `args.dst` stays
        // in `args` for the packed path.
        let GemmArgs {
            mnk: (m, n, k),
            dst_rs,
            accumulate,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            threaded,
            ..
        } = args;
        let (lhs_rs, lhs_cs) = lhs_strides;
        let (rhs_rs, rhs_cs) = rhs_strides;
        let axpy = match opts.path {
            Path::Auto => m <= SMALL_M || k >= AXPY_MIN_K,
            Path::Axpy | Path::Tall => true,
            _ => false,
        };
        let tall = match opts.path {
            Path::Auto => m > SMALL_M,
            Path::Tall => true,
            _ => false,
        };
        if rhs_cs == 1 && axpy && tall {
            let tasks_min = opts.min_fmas_per_task;
            split_columns(
                threaded,
                tasks_min,
                (m, n, k),
                avx512::AXPY_NB,
                args.dst,
                |c, (j0, j1)| {
                    // SAFETY: AVX-512F was detected above; the bounds of
                    // every operand were checked by `check_and_handle_empty`
                    // (columns `j0..j1` inside `0..n`); `split_columns`
                    // gives this call its own columns of C.
                    unsafe {
                        avx512::tall_axpy(
                            (m, j1 - j0, k),
                            c.get().add(j0),
                            dst_rs,
                            accumulate,
                            lhs.as_ptr(),
                            lhs_strides,
                            rhs.as_ptr().add(j0),
                            rhs_rs,
                        )
                    };
                },
            );
            return;
        }
        if rhs_cs == 1 && axpy {
            let tasks_min = opts.min_fmas_per_task;
            let threaded = threaded && m > SMALL_M;
            split_columns(
                threaded,
                tasks_min,
                (m, n, k),
                avx512::AXPY_NB,
                args.dst,
                |c, (j0, j1)| {
                    for i0 in (0..m).step_by(SMALL_M) {
                        // SAFETY: AVX-512F was detected above; the bounds of
                        // every operand were checked by `check_and_handle_empty`
                        // (rows `i0..i0 + SMALL_M` clipped to `m`, columns
                        // `j0..j1` inside `0..n`); `split_columns` gives this
                        // call its own columns of C.
                        unsafe {
                            avx512::small_rows_axpy(
                                (SMALL_M.min(m - i0), j1 - j0, k),
                                c.get().add(i0 * dst_rs + j0),
                                dst_rs,
                                accumulate,
                                lhs.as_ptr().add(i0 * lhs_rs),
                                lhs_strides,
                                rhs.as_ptr().add(j0),
                                rhs_rs,
                            )
                        };
                    }
                },
            );
            return;
        }
        let dot = match opts.path {
            Path::Auto => m <= SMALL_M,
            Path::Dot => true,
            _ => false,
        };
        if rhs_rs == 1 && lhs_cs == 1 && dot {
            let tasks_min = opts.min_fmas_per_task;
            let threaded = threaded && m > SMALL_M;
            split_columns(threaded, tasks_min, (m, n, k), 4, args.dst, |c, cols| {
                // SAFETY: AVX-512F was detected above; the bounds of
                // every operand were checked; `split_columns` gives this
                // call its own columns of C.
                unsafe {
                    avx512::dot_tiles(
                        (m, k),
                        cols,
                        c.get(),
                        dst_rs,
                        accumulate,
                        lhs.as_ptr(),
                        lhs_rs,
                        rhs.as_ptr(),
                        |j| j * rhs_cs,
                    )
                }
            });
            return;
        }
        // SAFETY: AVX-512F was detected above; the bounds of every operand
        // were checked and the sizes are non-zero (`check_and_handle_empty`).
        unsafe { packed::packed_product(opts.min_fmas_per_task, args) };
    }
}

/// Up to 64 columns of C that one tile computes: its 16-lane vector `h`
/// reads `len[h]` values of B's row from `src[h]` and writes them to C's
/// row from `dst[h]` (`len[h] == 0`: an unused vector).
///
/// Internal (`pub` only because [`Elem::host_gemm_row_table`](crate::Elem)
/// takes it).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub src: [usize; 4],
    pub dst: [usize; 4],
    pub len: [usize; 4],
}

impl Block {
    /// Columns `j0..j0 + nb` (`nb <= 64`) of B's rows into the same ones of C.
    pub(crate) fn contiguous(j0: usize, nb: usize) -> Self {
        let at: [usize; 4] = core::array::from_fn(|h| j0 + 16 * h);
        Block {
            src: at,
            dst: at,
            len: core::array::from_fn(|h| nb.saturating_sub(16 * h).min(16)),
        }
    }
}

/// C's data pointer, shared by tasks that write disjoint column ranges.
#[derive(Clone, Copy)]
pub(crate) struct DstPtr(*mut f32);
// SAFETY: `split_columns` hands each task a `DstPtr` with its own disjoint
// columns of C, and the slice it came from stays borrowed mutably meanwhile.
unsafe impl Send for DstPtr {}
unsafe impl Sync for DstPtr {}

impl DstPtr {
    /// The pointer of `dst`, which stays borrowed mutably by the caller
    /// while tasks write disjoint parts of it.
    pub(crate) fn new(dst: &mut [f32]) -> Self {
        DstPtr(dst.as_mut_ptr())
    }

    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Calls `f(c, (j0, j1))` for column ranges that cover `0..n` (boundaries
/// multiples of `unit`), on the kernels' [`team`](crate::kernels::team) (as
/// many threads as rayon's pool has) when `threaded` and the product
/// (`m * n * k` multiply-adds) is worth at least two tasks, else once on
/// the calling thread. Every element of C is computed by one call, so the
/// results do not depend on the split.
pub(crate) fn split_columns(
    threaded: bool,
    min_fmas_per_task: usize,
    (m, n, k): (usize, usize, usize),
    unit: usize,
    dst: &mut [f32],
    f: impl Fn(DstPtr, (usize, usize)) + Sync,
) {
    let units = n.div_ceil(unit);
    let tasks = if threaded {
        let by_work = (m * n * k / min_fmas_per_task.max(1)).max(1);
        (TASKS_PER_THREAD * rayon::current_num_threads())
            .min(units)
            .min(by_work)
            .max(1)
    } else {
        1
    };
    let c = DstPtr::new(dst);
    let range = |t: usize| {
        let (u0, u1) = (units * t / tasks, units * (t + 1) / tasks);
        (u0 * unit, (u1 * unit).min(n))
    };
    if tasks == 1 {
        f(c, (0, n));
    } else {
        crate::kernels::team::run(tasks, &|t| f(c, range(t)));
    }
}

/// `dst [m, blocks] (row stride dst_rs) (+)= lhs [m, k] x B` where B's row
/// `p` starts at `rhs[row_offsets[p]]` (`k = row_offsets.len()`; rows may
/// overlap: the shifted views of a padded image that a stride-1
/// convolution multiplies, without an im2col copy) and the columns are
/// given by `blocks` ([`Block`]: where each 16-lane vector reads B's rows
/// and writes C's rows, so a convolution's output rows, shorter than the
/// padded image's, are written in place). Single-threaded; every element
/// is summed over `p = 0..k` in order, like the product with those rows
/// copied into a matrix. Returns `false` (and writes nothing) when the CPU
/// lacks AVX-512F: the caller then takes another path.
///
/// Panics if an operand's slice is too short.
pub(crate) fn sgemm_row_table(
    m: usize,
    blocks: &[Block],
    (dst, dst_rs, accumulate): (&mut [f32], usize, bool),
    (lhs, lhs_rs): (&[f32], usize),
    rhs: &[f32],
    row_offsets: &[usize],
) -> bool {
    if !has_avx512() {
        return false;
    }
    let k = row_offsets.len();
    // The end of the furthest vector in B's rows and in C's rows.
    let reach = |at: fn(&Block) -> [usize; 4]| {
        let ends = blocks.iter().flat_map(|b| {
            (0..4)
                .filter(|&h| b.len[h] > 0)
                .map(move |h| at(b)[h] + b.len[h])
        });
        ends.max()
    };
    let (Some(src_end), Some(dst_end)) = (reach(|b| b.src), reach(|b| b.dst)) else {
        return true;
    };
    if m == 0 {
        return true;
    }
    assert!(blocks.iter().all(|b| b.len.iter().all(|&l| l <= 16)));
    assert!((m - 1) * dst_rs + dst_end <= dst.len() && dst_end <= dst_rs);
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for b in blocks {
                    for h in 0..4 {
                        let at = r * dst_rs + b.dst[h];
                        dst[at..at + b.len[h]].fill(0.0);
                    }
                }
            }
        }
        return true;
    }
    assert!((m - 1) * lhs_rs + k <= lhs.len() && k <= lhs_rs);
    let last = row_offsets.iter().copied().max().unwrap_or(0);
    assert!(last + src_end <= rhs.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F was detected above; every block vector lies within
    // C's `m` rows at stride `dst_rs` and within every B row
    // `rhs[off + src..off + src + len]`; A holds `m` rows of `k` at stride
    // `lhs_rs` (asserts above).
    unsafe {
        avx512::row_table_axpy(
            m,
            blocks,
            (dst.as_mut_ptr(), dst_rs, accumulate),
            lhs.as_ptr(),
            (lhs_rs, 1),
            rhs.as_ptr(),
            row_offsets,
        )
    };
    true
}

/// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] x B` where B's column `j`
/// is the `k` contiguous values `rhs[col_offsets[j]..][..k]` (`n =
/// col_offsets.len()`; columns may overlap: the weight gradient `dOut x
/// cols^T` of a stride-1 convolution, over the shifted views of the padded
/// input, without an im2col copy). Single-threaded; each element is one
/// dot product (16 partial sums, then added). Returns `false` (and writes
/// nothing) when the CPU lacks AVX-512F.
///
/// Panics if an operand's slice is too short.
pub(crate) fn sgemm_col_table(
    (m, k): (usize, usize),
    (dst, dst_rs, accumulate): (&mut [f32], usize, bool),
    (lhs, lhs_rs): (&[f32], usize),
    rhs: &[f32],
    col_offsets: &[usize],
) -> bool {
    if !has_avx512() {
        return false;
    }
    let n = col_offsets.len();
    if m == 0 || n == 0 {
        return true;
    }
    assert!((m - 1) * dst_rs + n <= dst.len() && n <= dst_rs);
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return true;
    }
    assert!((m - 1) * lhs_rs + k <= lhs.len() && k <= lhs_rs);
    let last = col_offsets.iter().copied().max().unwrap_or(0);
    assert!(last + k <= rhs.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F was detected above; C holds `m` rows of `n` columns
    // at stride `dst_rs`, A `m` rows of `k` at stride `lhs_rs`, and every B
    // column `rhs[off..off + k]` is inside `rhs` (asserts above).
    unsafe {
        avx512::dot_tiles(
            (m, k),
            (0, n),
            dst.as_mut_ptr(),
            dst_rs,
            accumulate,
            lhs.as_ptr(),
            lhs_rs,
            rhs.as_ptr(),
            // `get_unchecked`: `j < n = col_offsets.len()`.
            |j| *col_offsets.get_unchecked(j),
        )
    };
    true
}
