//! The packed path of [`sgemm`](super::sgemm): A and B copied into the
//! panel layouts the microkernel reads, the blocking loops around it, and
//! the split of C's columns over the kernels' `team`.

use std::cell::Cell;

use super::avx512::{kernel_mr_nr, pack_a_rows, pack_b_cols};
use super::{split_columns, DstPtr, KC, MR, NC, NR};
use crate::kernels::gemm_cpu::GemmArgs;

thread_local! {
    /// Reused packing buffers of this thread (taken out while in use, so a
    /// nested call on the same thread gets a fresh one).
    static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static B_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// This thread's buffer `slot` resized to `len` (contents unspecified).
fn take_buf(slot: &'static std::thread::LocalKey<Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = slot.with(Cell::take);
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

fn give_buf(slot: &'static std::thread::LocalKey<Cell<Vec<f32>>>, v: Vec<f32>) {
    slot.with(|c| c.set(v));
}

/// Packs `A[0..m, p0..p0 + kc]` into `dst` as `ceil(m / MR)` panels of
/// `kc x MR` (panel `q`, depth `p`, row `i` at `(q * kc + p) * MR + i`),
/// rows past `m` zero.
///
/// # Safety
/// AVX-512F available (row-major A is packed with in-register transposes).
unsafe fn pack_a(
    dst: &mut [f32],
    a: &[f32],
    (rs, cs): (usize, usize),
    m: usize,
    p0: usize,
    kc: usize,
) {
    for (q, panel) in dst
        .chunks_exact_mut(kc * MR)
        .take(m.div_ceil(MR))
        .enumerate()
    {
        let rows = MR.min(m - q * MR);
        if cs == 1 {
            let base = q * MR * rs + p0;
            assert!(base + (rows - 1) * rs + kc <= a.len());
            // SAFETY: AVX-512F (contract); `A[i, p]` for `i < rows`, `p < kc`
            // is `a[base + i * rs + p]`, inside `a` (assert above).
            unsafe { pack_a_rows(panel, a.as_ptr().add(base), rs, kc, rows) };
            continue;
        }
        if rows < MR {
            panel.fill(0.0);
        }
        for i in 0..rows {
            let base = (q * MR + i) * rs + p0 * cs;
            for p in 0..kc {
                panel[p * MR + i] = a[base + p * cs];
            }
        }
    }
}

/// Packs `B[p0..p0 + kc, j0..j0 + nc]` into `dst` as `ceil(nc / NR)` panels
/// of `kc x NR` (panel `q`, depth `p`, column `j` at `(q * kc + p) * NR + j`),
/// columns past `nc` zero.
///
/// # Safety
/// AVX-512F available (B with unit row stride is packed with in-register
/// transposes).
#[allow(clippy::too_many_arguments)]
unsafe fn pack_b(
    dst: &mut [f32],
    b: &[f32],
    (rs, cs): (usize, usize),
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    for (q, panel) in dst
        .chunks_exact_mut(kc * NR)
        .take(nc.div_ceil(NR))
        .enumerate()
    {
        let cols = NR.min(nc - q * NR);
        let jq = j0 + q * NR;
        if cs == 1 {
            for p in 0..kc {
                let src = (p0 + p) * rs + jq;
                let row = &mut panel[p * NR..p * NR + NR];
                row[..cols].copy_from_slice(&b[src..src + cols]);
                row[cols..].fill(0.0);
            }
        } else if rs == 1 {
            let base = jq * cs + p0;
            assert!(base + (cols - 1) * cs + kc <= b.len());
            // SAFETY: AVX-512F (contract); `B[p, j]` for `p < kc`, `j < cols`
            // is `b[base + j * cs + p]`, inside `b` (assert above).
            unsafe { pack_b_cols(panel, b.as_ptr().add(base), cs, kc, cols) };
        } else {
            if cols < NR {
                panel.fill(0.0);
            }
            for j in 0..cols {
                let base = p0 * rs + (jq + j) * cs;
                for p in 0..kc {
                    panel[p * NR + j] = b[base + p * rs];
                }
            }
        }
    }
}

/// Panels of A one packing task handles when packing is split.
const A_PANELS_PER_TASK: usize = 4;

/// Packs all of A (`m x k`) into `dst` (`m_pad * k` values), block of k
/// after block of k (block `p0 / KC` at `p0 * m_pad`); with `split`, groups
/// of panels of every block on the team (each panel is written by one task,
/// so the result is the same).
///
/// # Safety
/// AVX-512F available; A's bounds checked for `m x k` and its strides.
unsafe fn pack_all_a(
    dst: &mut [f32],
    a: &[f32],
    (rs, cs): (usize, usize),
    (m, k): (usize, usize),
    split: bool,
) {
    let m_pad = m.div_ceil(MR) * MR;
    assert_eq!(dst.len(), m_pad * k, "packed A length");
    let panels = m_pad / MR;
    let groups = if split {
        panels.div_ceil(A_PANELS_PER_TASK)
    } else {
        1
    };
    let per = panels.div_ceil(groups);
    let blocks = k.div_ceil(KC);
    let out = DstPtr::new(dst);
    let task = |t: usize| {
        let (blk, grp) = (t / groups, t % groups);
        let (p0, q0) = (blk * KC, grp * per);
        let q1 = (q0 + per).min(panels);
        if q0 >= q1 {
            return;
        }
        let kc = KC.min(k - p0);
        let rows = (q1 * MR).min(m) - q0 * MR;
        let start = p0 * m_pad + q0 * kc * MR;
        // SAFETY: panels `q0..q1` of block `blk` are `(q1 - q0) * kc * MR`
        // values from `start`, inside `dst` (length asserted above) and
        // written by this task only; A's rows from `q0 * MR` start at
        // `q0 * MR * rs`, inside `a` (bounds checked by the caller).
        unsafe {
            let panel = std::slice::from_raw_parts_mut(out.get().add(start), (q1 - q0) * kc * MR);
            pack_a(panel, &a[q0 * MR * rs..], (rs, cs), rows, p0, kc)
        }
    };
    if blocks * groups > 1 && split {
        crate::kernels::team::run(blocks * groups, &task);
    } else {
        (0..blocks * groups).for_each(task);
    }
}

/// The packed product.
///
/// # Safety
/// AVX-512F available; sizes non-zero and every operand's bounds checked
/// for its sizes and strides (`GemmArgs::check_and_handle_empty`).
pub(super) unsafe fn packed_product(min_fmas_per_task: usize, args: GemmArgs<'_, f32>) {
    let GemmArgs {
        mnk: (m, n, k),
        dst,
        dst_rs,
        accumulate,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        threaded,
    } = args;
    let m_pad = m.div_ceil(MR) * MR;
    // All of A, block of k after block of k: block `p0 / KC` starts at `p0 * m_pad`.
    let mut a_pack = take_buf(&A_BUF, m_pad * k);
    let split = threaded && m * n * k >= 2 * min_fmas_per_task;
    // SAFETY: AVX-512F (contract).
    unsafe { pack_all_a(&mut a_pack[..m_pad * k], lhs, lhs_strides, (m, k), split) };
    split_columns(
        threaded,
        min_fmas_per_task,
        (m, n, k),
        NR,
        dst,
        |c, (j0, j1)| {
            // SAFETY: `split_columns` gives each call its own columns `j0..j1`
            // of C; the caller checked C's bounds.
            unsafe {
                columns(
                    (m, k),
                    (j0, j1),
                    c,
                    dst_rs,
                    accumulate,
                    &a_pack[..m_pad * k],
                    m_pad,
                    rhs,
                    rhs_strides,
                )
            };
        },
    );
    give_buf(&A_BUF, a_pack);
}

/// Columns `j0..j1` of C from packed A (`m_pad` rows per block of k) and B.
///
/// # Safety
/// AVX-512F must be available; C (at `c`, row stride `dst_rs`) must hold
/// rows `0..m` and columns `j0..j1`, and no other thread may touch them.
#[allow(clippy::too_many_arguments)]
unsafe fn columns(
    (m, k): (usize, usize),
    (j0, j1): (usize, usize),
    c: DstPtr,
    dst_rs: usize,
    accumulate: bool,
    a_pack: &[f32],
    m_pad: usize,
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    let mut b_pack = take_buf(&B_BUF, KC.min(k) * NC);
    for jc in (j0..j1).step_by(NC) {
        let nc = NC.min(j1 - jc);
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            // SAFETY: AVX-512F (contract).
            unsafe { pack_b(&mut b_pack, rhs, rhs_strides, p0, kc, jc, nc) };
            let a_blk = &a_pack[p0 * m_pad..p0 * m_pad + m_pad * kc];
            let load = accumulate || p0 > 0;
            for ir in (0..m).step_by(MR) {
                let mr = MR.min(m - ir);
                let a_panel = &a_blk[ir * kc..ir * kc + kc * MR];
                for jr in (0..nc).step_by(NR) {
                    let nr = NR.min(nc - jr);
                    let b_panel = &b_pack[jr * kc..jr * kc + kc * NR];
                    // SAFETY: the panels hold `kc * MR` and `kc * NR` values;
                    // the tile (rows `ir..ir + mr`, columns `jc + jr ..+ nr`)
                    // is inside C and ours (function contract).
                    unsafe {
                        kernel_mr_nr(
                            kc,
                            a_panel.as_ptr(),
                            b_panel.as_ptr(),
                            c.get().add(ir * dst_rs + jc + jr),
                            dst_rs,
                            mr,
                            nr,
                            load,
                        )
                    };
                }
            }
        }
    }
    give_buf(&B_BUF, b_pack);
}
