//! Strided matrix products on host slices: a product's operands travel as
//! one [`GemmArgs`]; [`matmul`] picks the element type's kernel
//! ([`Elem::host_gemm`]: our own for `f32` (`kernels::sgemm`), the `gemm`
//! crate for `f64`); [`gemm_crate`] wraps the `gemm` crate with the bounds
//! checks that make its raw-pointer interface safe to call.

use crate::elem::Elem;

/// The operands of one product
/// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] x rhs [k, n]`, with
/// explicit (row, column) strides for `lhs` and `rhs`: element `(r, c)` of
/// `lhs` is `lhs[r * lhs_strides.0 + c * lhs_strides.1]` (so a transposed
/// operand is the same slice with its strides swapped).
///
/// Internal (`pub` only because [`Elem::host_gemm`] takes it).
#[doc(hidden)]
pub struct GemmArgs<'a, E> {
    /// `(m, n, k)`: rows of `dst`, columns of `dst`, the summed depth.
    pub mnk: (usize, usize, usize),
    /// The result, row `r` at `dst[r * dst_rs..]`.
    pub dst: &'a mut [E],
    /// Row stride of `dst` (at least `n`).
    pub dst_rs: usize,
    /// Adds the product to `dst` instead of overwriting it.
    pub accumulate: bool,
    /// The left operand `[m, k]`.
    pub lhs: &'a [E],
    /// (row, column) strides of `lhs`.
    pub lhs_strides: (usize, usize),
    /// The right operand `[k, n]`.
    pub rhs: &'a [E],
    /// (row, column) strides of `rhs`.
    pub rhs_strides: (usize, usize),
    /// Lets the kernel split a large product over threads (the kernels'
    /// team for `f32`, rayon's pool for the `gemm` crate; small products
    /// stay on the calling thread; the result does not depend on the thread
    /// count).
    pub threaded: bool,
}

impl<E: Elem> GemmArgs<'_, E> {
    /// Asserts that every element the product touches is inside its slice
    /// (panics otherwise); when there is nothing to multiply (`m`, `n` or
    /// `k` zero) does what the product would (zeroes `dst` when `k == 0` and
    /// not `accumulate`) and returns `false`.
    pub(crate) fn check_and_handle_empty(&mut self) -> bool {
        let (m, n, k) = self.mnk;
        if m == 0 || n == 0 {
            return false;
        }
        // Bounds: the last element each operand touches must be inside its slice.
        assert!((m - 1) * self.dst_rs + n <= self.dst.len());
        if k == 0 {
            if !self.accumulate {
                for r in 0..m {
                    self.dst[r * self.dst_rs..r * self.dst_rs + n].fill(E::zero());
                }
            }
            return false;
        }
        let ((lhs_rs, lhs_cs), (rhs_rs, rhs_cs)) = (self.lhs_strides, self.rhs_strides);
        assert!((m - 1) * lhs_rs + (k - 1) * lhs_cs < self.lhs.len());
        assert!((k - 1) * rhs_rs + (n - 1) * rhs_cs < self.rhs.len());
        true
    }
}

/// The product `args` describes, by the element type's kernel.
///
/// Panics if an operand's slice is too short for its sizes and strides.
pub(crate) fn matmul<E: Elem>(args: GemmArgs<'_, E>) {
    E::host_gemm(args)
}

/// [`matmul`] through the `gemm` crate.
pub(crate) fn gemm_crate<E: Elem>(mut args: GemmArgs<'_, E>) {
    if !args.check_and_handle_empty() {
        return;
    }
    let GemmArgs {
        mnk: (m, n, k),
        dst,
        dst_rs,
        accumulate,
        lhs,
        lhs_strides: (lhs_rs, lhs_cs),
        rhs,
        rhs_strides: (rhs_rs, rhs_cs),
        threaded,
    } = args;
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
