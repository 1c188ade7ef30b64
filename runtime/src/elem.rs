//! The bound on element types that every sxima layer accepts.

use dfdx::shapes::Dtype;

use crate::kernels::gemm_cpu::GemmArgs;

/// A floating-point element type a model can be built with (`f32`, `f64`).
///
/// This is the one bound generated code writes on its dtype parameter, so that
/// every layer's impl (dfdx's `Linear` needs `Float + SampleUniform`) is
/// satisfied by `E: Elem` alone.
pub trait Elem:
    Dtype
    + num_traits::Float
    + rand_distr::uniform::SampleUniform
    + dfdx::tensor::safetensors::SafeDtype
{
    /// The host matrix product of the CPU kernels:
    /// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] x rhs [k, n]` with
    /// (row, column) strides for `lhs` and `rhs` (our own kernel for `f32`,
    /// the `gemm` crate for `f64`). Internal: panics if a slice is too short.
    #[doc(hidden)]
    fn host_gemm(args: GemmArgs<'_, Self>);

    /// `dst [m, blocks] (row stride dst_rs) (+)= lhs [m, k] (row stride
    /// lhs_rs) x B`, B's row `p` starting at `rhs[row_offsets[p]]`, the
    /// columns read and written as `blocks` say, by a kernel that reads B in
    /// place (the stride-1 convolutions of the CPU kernels); `false`
    /// (nothing written) where the element type or the CPU has no such
    /// kernel. Internal: panics if a slice is too short.
    #[doc(hidden)]
    fn host_gemm_row_table(
        _m: usize,
        _blocks: &[crate::kernels::sgemm::Block],
        _dst: (&mut [Self], usize, bool),
        _lhs: (&[Self], usize),
        _rhs: &[Self],
        _row_offsets: &[usize],
    ) -> bool {
        false
    }

    /// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] (row stride lhs_rs) x B`,
    /// B's column `j` the `k` values at `rhs[col_offsets[j]..]`, each element
    /// one dot product (the weight gradient of the stride-1 convolutions of
    /// the CPU kernels); `false` (nothing written) where the element type
    /// or the CPU has no such kernel. Internal: panics if a slice is too
    /// short.
    #[doc(hidden)]
    fn host_gemm_col_table(
        _mk: (usize, usize),
        _dst: (&mut [Self], usize, bool),
        _lhs: (&[Self], usize),
        _rhs: &[Self],
        _col_offsets: &[usize],
    ) -> bool {
        false
    }

    /// `v` as `f32` values when the element type is `f32` (for kernels
    /// written for `f32` only), else `None`. Internal.
    #[doc(hidden)]
    fn as_f32(_v: &[Self]) -> Option<&[f32]> {
        None
    }

    /// [`Self::as_f32`] for a mutable slice. Internal.
    #[doc(hidden)]
    fn as_f32_mut(_v: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

impl Elem for f32 {
    fn as_f32(v: &[f32]) -> Option<&[f32]> {
        Some(v)
    }

    fn as_f32_mut(v: &mut [f32]) -> Option<&mut [f32]> {
        Some(v)
    }

    fn host_gemm(args: GemmArgs<'_, f32>) {
        crate::kernels::sgemm::sgemm(args)
    }

    fn host_gemm_row_table(
        m: usize,
        blocks: &[crate::kernels::sgemm::Block],
        dst: (&mut [f32], usize, bool),
        lhs: (&[f32], usize),
        rhs: &[f32],
        row_offsets: &[usize],
    ) -> bool {
        crate::kernels::sgemm::sgemm_row_table(m, blocks, dst, lhs, rhs, row_offsets)
    }

    fn host_gemm_col_table(
        mk: (usize, usize),
        dst: (&mut [f32], usize, bool),
        lhs: (&[f32], usize),
        rhs: &[f32],
        col_offsets: &[usize],
    ) -> bool {
        crate::kernels::sgemm::sgemm_col_table(mk, dst, lhs, rhs, col_offsets)
    }
}

impl Elem for f64 {
    fn host_gemm(args: GemmArgs<'_, f64>) {
        crate::kernels::gemm_cpu::gemm_crate(args)
    }
}

/// `f64` → `E`, the one conversion every layer, loss and optimizer uses for
/// hyper-parameters and constants (learning rates, epsilons, slopes, ...).
///
/// Exact for `f64`, rounded to nearest for `f32`; a value outside `E`'s range
/// becomes `±inf` (as `as` casts do) and NaN stays NaN, so the conversion is
/// total and never panics.
pub fn cast<E: Elem>(v: f64) -> E {
    match <E as num_traits::NumCast>::from(v) {
        Some(e) => e,
        None if v > 0.0 => E::infinity(),
        None if v < 0.0 => E::neg_infinity(),
        None => E::nan(),
    }
}

/// `E` → `f64` (exact for `f32` and `f64`; NaN if `E` cannot say).
pub fn to_f64<E: Elem>(v: E) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_rounds_saturates_and_keeps_nan() {
        assert_eq!(cast::<f64>(0.1), 0.1);
        assert_eq!(cast::<f32>(0.1), 0.1f32);
        assert_eq!(cast::<f32>(1e300), f32::INFINITY);
        assert_eq!(cast::<f32>(-1e300), f32::NEG_INFINITY);
        assert!(cast::<f32>(f64::NAN).is_nan());
        assert_eq!(to_f64(0.5f32), 0.5);
    }
}
