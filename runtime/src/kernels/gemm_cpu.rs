//! Strided matrix products on host slices: [`matmul_par`] / [`matmul`] pick
//! the element type's kernel ([`Elem::host_gemm`]: our own for `f32`
//! (`kernels::sgemm`), the `gemm` crate for `f64`); [`gemm_crate`] wraps the
//! `gemm` crate with the bounds checks that make its raw-pointer interface
//! safe to call.

use crate::elem::Elem;

/// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] x rhs [k, n]`, with
/// explicit (row, column) strides for `lhs` and `rhs`; `accumulate` adds to
/// `dst`; `threaded` lets the kernel split large products over rayon's pool
/// (small ones stay on the calling thread; the result does not depend on
/// the thread count).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_par<E: Elem>(
    mnk: (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[E],
    lhs_strides: (usize, usize),
    rhs: &[E],
    rhs_strides: (usize, usize),
    threaded: bool,
) {
    E::host_gemm(
        mnk,
        dst,
        dst_rs,
        accumulate,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        threaded,
    )
}

/// [`matmul_par`] on the calling thread only.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul<E: Elem>(
    mnk: (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[E],
    lhs_strides: (usize, usize),
    rhs: &[E],
    rhs_strides: (usize, usize),
) {
    matmul_par(
        mnk,
        dst,
        dst_rs,
        accumulate,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        false,
    )
}

/// Asserts that every element the product touches is inside its slice;
/// when there is nothing to multiply (`m`, `n` or `k` zero) does what the
/// product would (zero `dst` when `k == 0` and not `accumulate`) and returns
/// `false`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_and_handle_empty<E: Elem>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[E],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[E],
    (rhs_rs, rhs_cs): (usize, usize),
) -> bool {
    if m == 0 || n == 0 {
        return false;
    }
    // Bounds: the last element each operand touches must be inside its slice.
    assert!((m - 1) * dst_rs + n <= dst.len());
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(E::zero());
            }
        }
        return false;
    }
    assert!((m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
    assert!((k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    true
}

/// [`matmul_par`] through the `gemm` crate.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_crate<E: Elem>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[E],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[E],
    (rhs_rs, rhs_cs): (usize, usize),
    threaded: bool,
) {
    if !check_and_handle_empty(
        (m, n, k),
        dst,
        dst_rs,
        accumulate,
        lhs,
        (lhs_rs, lhs_cs),
        rhs,
        (rhs_rs, rhs_cs),
    ) {
        return;
    }
    let parallelism = if threaded {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every index the kernel forms is `r * rs + c * cs` with `r`, `c`
    // below the sizes given, which `check_and_handle_empty` keeps inside the
    // slices; `dst` is borrowed mutably and does not alias `lhs`/`rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            E::one(),
            E::one(),
            false,
            false,
            false,
            parallelism,
        )
    }
}
