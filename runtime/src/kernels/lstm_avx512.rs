//! The LSTM's per-row gate passes for `f32` written with AVX-512 intrinsics
//! (16 lanes, FMA, masked tails): the forward (gate nonlinearities, cell and
//! hidden state) and the backward (pre-activation gradients) of one batch
//! row at one step, for [`recurrent_cpu`](super::recurrent_cpu).
//!
//! The scalar formulas of [`KernelFloat`](super::act_cpu::KernelFloat) would
//! be compiled into partly scalar code (NaN-exact `clamp`, float-to-int
//! casts, no FMA); here `exp` clamps with `max`/`min`, rounds with
//! `roundscale` and scales with `scalef`, and `tanh` uses the same two
//! regions as the scalar `tanh_k`. Results differ from the scalar path only
//! by float rounding (FMA); on one machine they are deterministic.
//!
//! Every function is `#[target_feature(enable = "avx512f")]`: call it only
//! after `is_x86_feature_detected!("avx512f")`.

use core::arch::x86_64::*;

use super::sgemm::lanes;

/// `exp(x)` per lane: `2^n e^r` with `n = round(x / ln 2)` and a degree-7
/// polynomial for `e^r`, the input clamped to `[-87, 88]` (as
/// [`exp_f32`](super::act_cpu::exp_f32)); NaN stays NaN.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512) -> __m512 {
    // `max(lo, x)` / `min(hi, x)` return their second operand when one is
    // NaN: a NaN input goes through.
    let x = _mm512_min_ps(
        _mm512_set1_ps(88.0),
        _mm512_max_ps(_mm512_set1_ps(-87.0), x),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    // ln 2 split in a part exact in few bits and the rest (Cody-Waite).
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut e = _mm512_set1_ps(1.0 / 5040.0);
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(e, n)
}

/// `1 / (1 + exp(-x))` per lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn sigmoid16(x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    let e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    _mm512_div_ps(one, _mm512_add_ps(one, e))
}

/// `tanh(x)` per lane, as the scalar `tanh_k`: below 1 in magnitude Eigen's
/// odd 13/6 rational approximation (`x` itself below `4e-4`), above
/// `(e - 1) / (e + 1)` with `e = exp(2|x|)`; one division for both.
#[inline]
#[target_feature(enable = "avx512f")]
fn tanh16(x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    let a = _mm512_abs_ps(x);
    let xc = _mm512_min_ps(one, _mm512_max_ps(_mm512_set1_ps(-1.0), x));
    let x2 = _mm512_mul_ps(xc, xc);
    let mut p = _mm512_set1_ps(-2.760_768_5e-16);
    for c in [
        2.000_188e-13,
        -8.604_672e-11,
        5.122_297e-8,
        1.485_722_4e-5,
        6.372_619_3e-4,
        4.893_524_6e-3,
    ] {
        p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(c));
    }
    let mut q = _mm512_set1_ps(1.198_258_4e-6);
    for c in [1.185_347_1e-4, 2.268_434_6e-3, 4.893_525e-3] {
        q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(c));
    }
    let e = exp16(_mm512_add_ps(a, a));
    // `e - 1 >= 0`: its sign bit set from `x` is `copysign`.
    let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
    let far_num = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(_mm512_sub_ps(e, one)),
        sign,
    ));
    let near = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, one);
    let num = _mm512_mask_blend_ps(near, far_num, _mm512_mul_ps(xc, p));
    let den = _mm512_mask_blend_ps(near, _mm512_add_ps(e, one), q);
    let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(0.0004));
    _mm512_mask_blend_ps(tiny, _mm512_div_ps(num, den), x)
}

/// Masked load of 16 lanes at `p`.
///
/// # Safety
/// The lanes set in `m` are inside one allocation.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load(m: __mmask16, p: *const f32) -> __m512 {
    // SAFETY: the caller's.
    unsafe { _mm512_maskz_loadu_ps(m, p) }
}

/// Masked store of 16 lanes at `p`.
///
/// # Safety
/// The lanes set in `m` are inside one allocation, writable.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store(m: __mmask16, p: *mut f32, v: __m512) {
    // SAFETY: the caller's.
    unsafe { _mm512_mask_storeu_ps(p, m, v) }
}

/// One row of the LSTM forward at one step, `h = y.len()`: `z [4h]` holds
/// the pre-activations `i, f, g, o` and gets the activated gates
/// (`sigmoid, sigmoid, tanh, sigmoid`); `c = f c_prev + i g`,
/// `y = o tanh(c)`.
///
/// Panics unless `z.len() == 4h` and `c_prev`, `c` have `h` elements.
///
/// # Safety
/// AVX-512F available.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn forward_row(z: &mut [f32], c_prev: &[f32], c: &mut [f32], y: &mut [f32]) {
    let h = y.len();
    assert!(z.len() == 4 * h && c_prev.len() == h && c.len() == h);
    let zp = z.as_mut_ptr();
    let mut j = 0;
    while j < h {
        let m = lanes(h - j);
        // SAFETY: lanes `j..min(j + 16, h)` of each gate block, of `c_prev`,
        // `c` and `y` are inside their slices (lengths asserted above).
        unsafe {
            let i = sigmoid16(load(m, zp.add(j)));
            let f = sigmoid16(load(m, zp.add(h + j)));
            let g = tanh16(load(m, zp.add(2 * h + j)));
            let o = sigmoid16(load(m, zp.add(3 * h + j)));
            let cv = _mm512_fmadd_ps(f, load(m, c_prev.as_ptr().add(j)), _mm512_mul_ps(i, g));
            store(m, zp.add(j), i);
            store(m, zp.add(h + j), f);
            store(m, zp.add(2 * h + j), g);
            store(m, zp.add(3 * h + j), o);
            store(m, c.as_mut_ptr().add(j), cv);
            store(m, y.as_mut_ptr().add(j), _mm512_mul_ps(o, tanh16(cv)));
        }
        j += 16;
    }
}

/// One row of the LSTM backward at one step, `h = dh.len()`: `z [4h]`
/// holds the activated gates `i, f, g, o` and gets their pre-activation
/// gradients; `c`/`c_prev` are the cell state after/before the step, `go`
/// and `dh` the output's and the next step's gradient of `h`, `dc` the
/// gradient of `c` (replaced by that of `c_prev`).
///
/// Panics unless `z.len() == 4h` and the other slices have `h` elements.
///
/// # Safety
/// AVX-512F available.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn backward_row(
    z: &mut [f32],
    c: &[f32],
    c_prev: &[f32],
    go: &[f32],
    dh: &[f32],
    dc: &mut [f32],
) {
    let h = dh.len();
    assert!(z.len() == 4 * h);
    assert!(c.len() == h && c_prev.len() == h && go.len() == h && dc.len() == h);
    let zp = z.as_mut_ptr();
    let one = _mm512_set1_ps(1.0);
    let mut j = 0;
    while j < h {
        let m = lanes(h - j);
        // SAFETY: lanes `j..min(j + 16, h)` of each gate block and of the
        // other slices are inside them (lengths asserted above).
        unsafe {
            let d = _mm512_add_ps(load(m, dh.as_ptr().add(j)), load(m, go.as_ptr().add(j)));
            let i = load(m, zp.add(j));
            let f = load(m, zp.add(h + j));
            let g = load(m, zp.add(2 * h + j));
            let o = load(m, zp.add(3 * h + j));
            let tc = tanh16(load(m, c.as_ptr().add(j)));
            // dc + d o (1 - tc^2)
            let dcv = _mm512_fmadd_ps(
                _mm512_mul_ps(d, o),
                _mm512_fnmadd_ps(tc, tc, one),
                load(m, dc.as_ptr().add(j)),
            );
            store(m, dc.as_mut_ptr().add(j), _mm512_mul_ps(dcv, f));
            let di = _mm512_mul_ps(dcv, g);
            let df = _mm512_mul_ps(dcv, load(m, c_prev.as_ptr().add(j)));
            let dg = _mm512_mul_ps(dcv, i);
            let dov = _mm512_mul_ps(d, tc);
            // s (1 - s) for the sigmoid gates, 1 - g^2 for the tanh one.
            let ds = |s: __m512| _mm512_mul_ps(s, _mm512_sub_ps(one, s));
            store(m, zp.add(j), _mm512_mul_ps(di, ds(i)));
            store(m, zp.add(h + j), _mm512_mul_ps(df, ds(f)));
            store(
                m,
                zp.add(2 * h + j),
                _mm512_mul_ps(dg, _mm512_fnmadd_ps(g, g, one)),
            );
            store(m, zp.add(3 * h + j), _mm512_mul_ps(dov, ds(o)));
        }
        j += 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::act_cpu::KernelFloat;

    /// Deterministic values in `[-scale, scale)`.
    fn values(len: usize, seed: u64, scale: f32) -> Vec<f32> {
        let v = crate::kernels::test_values(len, seed);
        v.into_iter().map(|v| v * (scale / 2.0)).collect()
    }

    fn has_avx512() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
    }

    /// `f` on every lane of `xs`, 16 at a time.
    fn per_lane(xs: &[f32], f: unsafe fn(__m512) -> __m512) -> Vec<f32> {
        xs.chunks(16)
            .flat_map(|c| {
                let mut buf = [0.0f32; 16];
                buf[..c.len()].copy_from_slice(c);
                // SAFETY: AVX-512F detected by the caller; `buf` holds 16.
                unsafe { _mm512_storeu_ps(buf.as_mut_ptr(), f(_mm512_loadu_ps(buf.as_ptr()))) };
                buf[..c.len()].to_vec()
            })
            .collect()
    }

    /// Absolute error against `f64`, relative above 1 in magnitude.
    fn err(got: f32, want: f64) -> f64 {
        (got as f64 - want).abs() / want.abs().max(1.0)
    }

    #[test]
    fn vector_functions_match_f64_and_propagate_nan() {
        if !has_avx512() {
            return;
        }
        let mut xs: Vec<f32> = (-200_000..200_000).map(|i| i as f32 * 5e-5).collect();
        xs.extend([1e-30, -3e-4, 5e-4, 30.0, -95.0, 100.0, 1e30, -f32::INFINITY]);
        let (e, s, t) = (
            per_lane(&xs, exp16),
            per_lane(&xs, sigmoid16),
            per_lane(&xs, tanh16),
        );
        for (k, &x) in xs.iter().enumerate() {
            let xd = x as f64;
            if x.abs() <= 87.0 {
                let want = xd.exp();
                assert!(
                    (e[k] as f64 - want).abs() <= 3e-7 * want,
                    "exp({x}) = {}",
                    e[k]
                );
            }
            assert!(err(s[k], 1.0 / (1.0 + (-xd).exp())) <= 2e-7, "sigmoid({x})");
            let want = xd.tanh();
            assert!(
                (t[k] as f64 - want).abs() <= 5e-7 * want.abs().max(1e-30),
                "tanh({x})"
            );
        }
        for f in [exp16, sigmoid16, tanh16] {
            assert!(per_lane(&[f32::NAN, 1.0], f)[0].is_nan());
        }
    }

    /// The rows against the scalar formulas in `f64`, for hidden sizes with
    /// and without a partial vector.
    #[test]
    fn rows_match_the_scalar_formulas() {
        if !has_avx512() {
            return;
        }
        for h in [1, 7, 16, 19, 40] {
            let z0 = values(4 * h, h as u64, 4.0);
            let c_prev = values(h, 2, 2.0);
            let (mut z, mut c, mut y) = (z0.clone(), vec![0.0; h], vec![0.0; h]);
            // SAFETY: AVX-512F detected above.
            unsafe { forward_row(&mut z, &c_prev, &mut c, &mut y) };
            let sig = |v: f32| 1.0 / (1.0 + (-(v as f64)).exp());
            for j in 0..h {
                let (i, f) = (sig(z0[j]), sig(z0[h + j]));
                let (g, o) = ((z0[2 * h + j] as f64).tanh(), sig(z0[3 * h + j]));
                let cw = f * c_prev[j] as f64 + i * g;
                for (got, want) in [
                    (z[j], i),
                    (z[h + j], f),
                    (z[2 * h + j], g),
                    (z[3 * h + j], o),
                    (c[j], cw),
                    (y[j], o * cw.tanh()),
                ] {
                    assert!(err(got, want) <= 1e-6, "h={h} j={j}: {got} vs {want}");
                }
            }
            // Backward from the activated gates just computed.
            let (go, dh, dc0) = (values(h, 5, 1.0), values(h, 6, 1.0), values(h, 7, 1.0));
            let (gates, mut dz, mut dc) = (z.clone(), z, dc0.clone());
            // SAFETY: AVX-512F detected above.
            unsafe { backward_row(&mut dz, &c, &c_prev, &go, &dh, &mut dc) };
            for j in 0..h {
                let g = |k: usize| gates[k * h + j] as f64;
                let (i, f, gg, o) = (g(0), g(1), g(2), g(3));
                let d = dh[j] as f64 + go[j] as f64;
                let tc = (c[j] as f64).tanh();
                let dcv = dc0[j] as f64 + d * o * (1.0 - tc * tc);
                for (got, want) in [
                    (dc[j], dcv * f),
                    (dz[j], dcv * gg * i * (1.0 - i)),
                    (dz[h + j], dcv * c_prev[j] as f64 * f * (1.0 - f)),
                    (dz[2 * h + j], dcv * i * (1.0 - gg * gg)),
                    (dz[3 * h + j], d * tc * o * (1.0 - o)),
                ] {
                    assert!(err(got, want) <= 2e-6, "h={h} j={j}: {got} vs {want}");
                }
            }
        }
    }

    /// The scalar `KernelFloat` path (what runs without AVX-512) and this
    /// one agree to float rounding on the same row.
    #[test]
    fn rows_agree_with_the_scalar_kernels() {
        if !has_avx512() {
            return;
        }
        let h = 21;
        let z0 = values(4 * h, 9, 6.0);
        let c_prev = values(h, 10, 3.0);
        let (mut z, mut c, mut y) = (z0.clone(), vec![0.0; h], vec![0.0; h]);
        // SAFETY: AVX-512F detected above.
        unsafe { forward_row(&mut z, &c_prev, &mut c, &mut y) };
        for j in 0..h {
            let i = z0[j].sigmoid_k();
            let f = z0[h + j].sigmoid_k();
            let g = z0[2 * h + j].tanh_k();
            let o = z0[3 * h + j].sigmoid_k();
            let cs = f * c_prev[j] + i * g;
            assert!((c[j] - cs).abs() <= 1e-6 * cs.abs().max(1.0));
            assert!((y[j] - o * cs.tanh_k()).abs() <= 1e-6);
        }
    }
}
