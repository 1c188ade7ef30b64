//! Scalar activations for the CPU kernels, written so loops over them
//! vectorize: `tanh` without glibc's `tanhf` (which goes through `expm1f`; it
//! was a third of the LSTM benchmark's time), the logistic sigmoid, and the
//! `f32` `exp` under both.

use crate::elem::Elem;

/// The element types the CPU kernels run on, with their activations.
pub(crate) trait KernelFloat: Elem {
    /// `tanh(self)`: for `f32` a rational approximation below 1 in
    /// magnitude and `1 - 2 / (exp(2|x|) + 1)` above (within 5 ulp, see
    /// the test); `f64`'s own for `f64`.
    fn tanh_k(self) -> Self;

    /// `1 / (1 + exp(-self))`.
    #[inline]
    fn sigmoid_k(self) -> Self {
        Self::one() / (Self::one() + (-self).exp())
    }

    /// The LSTM forward of one row at one step by a vectorized kernel when
    /// there is one for this type and CPU (see
    /// `lstm_avx512::forward_row` for the arguments); `false` when the
    /// caller must run the scalar formulas.
    #[inline]
    fn lstm_forward_row(
        _z: &mut [Self],
        _c_prev: &[Self],
        _c: &mut [Self],
        _y: &mut [Self],
    ) -> bool {
        false
    }

    /// The LSTM backward of one row at one step by a vectorized kernel
    /// (see `lstm_avx512::backward_row`); `false` when there is none.
    #[inline]
    fn lstm_backward_row(
        _z: &mut [Self],
        _c: &[Self],
        _c_prev: &[Self],
        _go: &[Self],
        _dh: &[Self],
        _dc: &mut [Self],
    ) -> bool {
        false
    }
}

impl KernelFloat for f64 {
    #[inline]
    fn tanh_k(self) -> f64 {
        self.tanh()
    }
}

impl KernelFloat for f32 {
    /// Below 1 in magnitude, the odd 13/6 rational minimax approximation
    /// Eigen uses for `float` (`generic_fast_tanh_float`), `x` itself below
    /// `4e-4` (`tanh x = x - x^3/3`, `x^3/3 < 2^-24 x`); above 1,
    /// `(e - 1) / (e + 1)` with `e = exp(2|x|)` from [`exp_f32`]. Both
    /// fractions are formed and one selected before the single division, so
    /// loops over it vectorize without a second divide.
    #[inline]
    fn tanh_k(self) -> f32 {
        const TINY: f32 = 0.0004;
        let a = self.abs();
        let x = self.clamp(-1.0, 1.0);
        let x2 = x * x;
        let mut p = -2.760_768_5e-16_f32;
        p = p * x2 + 2.000_188e-13;
        p = p * x2 - 8.604_672e-11;
        p = p * x2 + 5.122_297e-8;
        p = p * x2 + 1.485_722_4e-5;
        p = p * x2 + 6.372_619_3e-4;
        p = p * x2 + 4.893_524_6e-3;
        let mut q = 1.198_258_4e-6_f32;
        q = q * x2 + 1.185_347_1e-4;
        q = q * x2 + 2.268_434_6e-3;
        q = q * x2 + 4.893_525e-3;
        // Far from 0 the rational form drifts to ~7 ulp; there
        // `(e - 1) / (e + 1)` with `e = exp(2|x|) >= e^2` has no cancellation
        // (the result is above 0.76). Numerator and denominator are selected
        // first, so both branches share one division.
        let e = exp_f32(2.0 * a);
        let near_region = a < 1.0;
        let num = if near_region {
            x * p
        } else {
            (e - 1.0).copysign(self)
        };
        let den = if near_region { q } else { e + 1.0 };
        if a < TINY {
            self
        } else {
            num / den
        }
    }

    #[inline]
    fn sigmoid_k(self) -> f32 {
        1.0 / (1.0 + exp_f32(-self))
    }

    #[inline]
    fn lstm_forward_row(z: &mut [f32], c_prev: &[f32], c: &mut [f32], y: &mut [f32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::sgemm::has_avx512() {
            // SAFETY: AVX-512F detected just above.
            unsafe { crate::kernels::lstm_avx512::forward_row(z, c_prev, c, y) };
            return true;
        }
        let _ = (z, c_prev, c, y);
        false
    }

    #[inline]
    fn lstm_backward_row(
        z: &mut [f32],
        c: &[f32],
        c_prev: &[f32],
        go: &[f32],
        dh: &[f32],
        dc: &mut [f32],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::sgemm::has_avx512() {
            // SAFETY: AVX-512F detected just above.
            unsafe { crate::kernels::lstm_avx512::backward_row(z, c, c_prev, go, dh, dc) };
            return true;
        }
        let _ = (z, c, c_prev, go, dh, dc);
        false
    }
}

/// `exp(x)` for `f32` without a libm call (so loops over it vectorize):
/// `2^n * e^r` with `n = round(x / ln 2)`, `|r| <= ln2 / 2` and a degree-7
/// Taylor polynomial for `e^r` (truncation below 1e-8 relative). The input is
/// clamped to `[-87, 88]`, so results stay normal and finite (`exp(-87)` is
/// 1.6e-38 where the true value underflows further; `exp(88)` = 1.65e38 where
/// it would overflow to infinity above 88.72).
#[inline]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in few bits and the rest (Cody-Waite).
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and removing 1.5 * 2^23 (`floor` is a
    // libm call on the baseline x86-64 target, which stops vectorization).
    const ROUND: f32 = 12_582_912.0;
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut e = 1.0 / 5040.0;
    e = e * r + 1.0 / 720.0;
    e = e * r + 1.0 / 120.0;
    e = e * r + 1.0 / 24.0;
    e = e * r + 1.0 / 6.0;
    e = e * r + 0.5;
    e = e * r + 1.0;
    e = e * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    e * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units in the last place between `got` and the exact `want`, at
    /// `want`'s magnitude (at least the ulp of the smallest normal).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()).max(f32::MIN_POSITIVE) as f64;
        (got as f64 - want).abs() / ulp
    }

    #[test]
    fn f32_tanh_is_within_5_ulp() {
        let mut worst = (0.0f64, 0.0f32);
        // Dense near zero, then out to where tanh saturates, both signs.
        let xs = (0..200_000)
            .map(|i| i as f32 * 1e-6)
            .chain((0..200_000).map(|i| i as f32 * 5e-5))
            .chain([
                1e-30,
                1e-8,
                3.9e-4,
                4.1e-4,
                7.9,
                7.91,
                8.0,
                20.0,
                1e30,
                f32::INFINITY,
            ]);
        for x in xs {
            for x in [x, -x] {
                let e = ulps(x.tanh_k(), (x as f64).tanh());
                if e > worst.0 {
                    worst = (e, x);
                }
            }
        }
        assert!(
            worst.0 <= 5.0,
            "worst error {} ulp at x = {}",
            worst.0,
            worst.1
        );
        assert!(f32::NAN.tanh_k().is_nan());
        assert_eq!(0.3f64.tanh_k(), 0.3f64.tanh());
    }

    #[test]
    fn f32_exp_is_within_2_ulp() {
        for i in -87_000..88_000 {
            let x = i as f32 * 1e-3 + 3.3e-4;
            let e = ulps(exp_f32(x), (x as f64).exp());
            assert!(e <= 2.0, "exp({x}): {e} ulp");
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(-1000.0) < 2e-38);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn sigmoid_matches_its_formula() {
        for x in [-30.0f64, -2.5, 0.0, 0.7, 40.0] {
            let want = 1.0 / (1.0 + (-x).exp());
            assert_eq!(x.sigmoid_k(), want);
            assert!(((x as f32).sigmoid_k() as f64 - want).abs() <= 1e-7 * want);
        }
    }
}
