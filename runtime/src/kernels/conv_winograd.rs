//! Winograd's minimal filtering F(2x2, 3x3) for the CPU convolutions with a
//! 3 x 3 kernel at stride 1 (no dilation, no groups, at least
//! [`MIN_CHANNELS`] channels in and out): 16 multiply-adds per 2 x 2 tile of
//! output pixels and pair of channels where the direct sum takes 36.
//!
//! Output tile `(ty, tx)` (pixels `2ty..2ty+2` x `2tx..2tx+2`) reads the
//! 4 x 4 patch `d` of the zero-padded input at `(2ty, 2tx)`; with
//! ```text
//! B^T = [1  0 -1  0]    G = [  1    0    0 ]    A^T = [1  1  1  0]
//!       [0  1  1  0]        [ 1/2  1/2  1/2]          [0  1 -1 -1]
//!       [0 -1  1  0]        [ 1/2 -1/2  1/2]
//!       [0  1  0 -1]        [  0    0    1 ]
//! ```
//! the patch of channel `c` becomes `V_c = B^T d_c B`, the kernel `g_kc`
//! becomes `U_kc = G g_kc G^T` (4 x 4 each), and the output tile of channel
//! `k` is `A^T (sum_c U_kc ∘ V_c) A`. The sums over `c` are 16 matrix
//! products, one per element `ξ = 4a + b` of the 4 x 4 transforms:
//! `M[ξ] [Cout, T] = U[ξ] [Cout, Cin] x V[ξ] [Cin, T]` over a chunk of `T`
//! tiles (a few tile rows, sized so `V` and `M` stay in cache), by the
//! row-table kernel; the transforms are additions (and halvings of the
//! weight), vectorized over 16 tiles.
//!
//! The same plan computes the input gradient (a stride-1 3 x 3
//! convolution of `dOut` with the flipped weight) and the weight gradient,
//! the adjoint of the forward: `dU[ξ] [Cout, Cin] = sum over tiles of Ŷ[ξ]
//! [Cout, T] x V[ξ]^T` with `Ŷ = A dY A^T` of each 2 x 2 tile of `dOut`
//! (16 products by the dot-product kernel over the tiles), then `dW = G^T
//! dU G`.
//!
//! The results are the convolution's up to rounding: the transforms add
//! and subtract values of the patch before the products instead of after,
//! so they round differently from the direct sum (relative differences of a
//! few units in the 7th digit for values of one sign; more, relative to the
//! result, where large terms cancel).
//!
//! `f32` on CPUs with AVX-512F only (the transforms are written with its
//! intrinsics, 16 tiles at a time): [`Winograd::new`] says `None` elsewhere.
//! The padded input is kept with each row split into its even and odd
//! columns (`[Cin][Hs][2 * Rw]`: padded column `u` at `u / 2`, or at
//! `Rw + u / 2` when odd), so that a tile's four columns are the same
//! index of four contiguous runs.

use crate::elem::Elem;
use crate::kernels::sgemm::{sgemm_row_table, Block};
use crate::layers::conv_geom::ConvGeom;

/// Fewest input and output channels that take this path: below it the
/// products are too short for the transforms to pay.
pub(super) const MIN_CHANNELS: usize = 8;
/// Bytes of transformed inputs and products one chunk of tiles may hold.
const CHUNK_BYTES: usize = 512 << 10;

/// The plan of one convolution (see the module docs), or of the input
/// gradient of one (a stride-1 convolution too).
pub(super) struct Winograd {
    /// Tile rows and tiles per row: `ceil(h_out / 2)`, `ceil(w_out / 2)`.
    th: usize,
    tw: usize,
    /// Half the width of a split row (`tw + 1`), and its number of rows
    /// (`2 th + 2`): the padded columns and rows the tiles read.
    rw: usize,
    hs: usize,
    /// Tile rows per chunk (the last chunk may have fewer).
    chunk_rows: usize,
    /// Column blocks of a full chunk's products and of the last chunk's.
    blocks_full: Vec<Block>,
    blocks_last: Vec<Block>,
    /// Where row `c` of `V[ξ]` starts: `c * chunk_rows * tw`.
    row_offsets: Vec<usize>,
}

impl Winograd {
    /// The plan for `geom`, or `None` where it does not apply (another
    /// kernel, stride, dilation, groups, cropping, too few channels), the
    /// element type is not `f32` or the CPU lacks AVX-512F.
    pub(super) fn new<E: Elem>(geom: &ConvGeom) -> Option<Self> {
        Self::with_chunk_rows::<E>(geom, None)
    }

    /// [`Self::new`] with `chunk_rows` tile rows per chunk when given (tests
    /// use short chunks), else as many as [`CHUNK_BYTES`] allows.
    fn with_chunk_rows<E: Elem>(geom: &ConvGeom, chunk_rows: Option<usize>) -> Option<Self> {
        let plain = geom.kernel == (3, 3)
            && geom.stride == (1, 1)
            && geom.dilation == (1, 1)
            && geom.in_dilation == (1, 1)
            && geom.groups == 1;
        let (pt, pl) = geom.pad_begin;
        let channels = geom.c_in >= MIN_CHANNELS && geom.c_out >= MIN_CHANNELS;
        if !plain || !channels || pt < 0 || pl < 0 || geom.h_out == 0 || geom.w_out == 0 {
            return None;
        }
        if E::as_f32(&[]).is_none() || !crate::kernels::sgemm::has_avx512() {
            return None;
        }
        let (th, tw) = (geom.h_out.div_ceil(2), geom.w_out.div_ceil(2));
        let tile_bytes = 16 * (geom.c_in + geom.c_out) * size_of::<f32>();
        let rows = chunk_rows
            .unwrap_or(CHUNK_BYTES / tile_bytes / tw)
            .clamp(1, th);
        let tc = rows * tw;
        let blocks = |n: usize| -> Vec<Block> {
            (0..n)
                .step_by(64)
                .map(|j0| Block::contiguous(j0, (n - j0).min(64)))
                .collect()
        };
        let last_rows = th - (th.div_ceil(rows) - 1) * rows;
        Some(Self {
            th,
            tw,
            rw: tw + 1,
            hs: 2 * th + 2,
            chunk_rows: rows,
            blocks_full: blocks(tc),
            blocks_last: blocks(last_rows * tw),
            row_offsets: (0..geom.c_in).map(|c| c * tc).collect(),
        })
    }

    /// Tiles per chunk (the row stride of `V[ξ]` and `M[ξ]`).
    fn chunk_tiles(&self) -> usize {
        self.chunk_rows * self.tw
    }

    /// Distance between the planes `V[ξ]` (`rows` = `Cin`) or `M[ξ]`
    /// (`Cout`): a cache line more than a plane, so that the 16 planes a
    /// transform reads or writes at once do not all fall in the same sets
    /// of the L1 cache (planes a multiple of 4 KiB apart would).
    fn plane_stride(&self, rows: usize) -> usize {
        rows * self.chunk_tiles() + 16
    }

    /// The transformed weight `U [16][Cout][Cin]` of `w [Cout, Cin * 9]`.
    pub(super) fn weight<E: Elem>(&self, w: &[E], geom: &ConvGeom) -> Vec<f32> {
        let w = E::as_f32(w).expect("winograd: planned for f32 only");
        let (co, ci) = (geom.c_out, geom.c_in);
        debug_assert_eq!(w.len(), co * ci * 9, "winograd: weight length");
        // G applied to the three values (a, b, c) of a column (or row).
        let g = |a: f32, b: f32, c: f32| [a, (a + b + c) * 0.5, (a - b + c) * 0.5, c];
        let mut u = vec![0.0; 16 * co * ci];
        for (kc, k3) in w.chunks_exact(9).enumerate() {
            // G g: column j of the kernel through G.
            let cols: [[f32; 4]; 3] = core::array::from_fn(|j| g(k3[j], k3[3 + j], k3[6 + j]));
            for a in 0..4 {
                let row = g(cols[0][a], cols[1][a], cols[2][a]);
                for (b, &v) in row.iter().enumerate() {
                    u[(4 * a + b) * co * ci + kc] = v;
                }
            }
        }
        u
    }

    /// One sample's output `ob [Cout, h_out, w_out]` (=, or += with
    /// `accumulate`, then without a bias) from its input `xb [Cin, H, W]`,
    /// the transformed weight `u` ([`Self::weight`]) and the bias.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_sample<E: Elem>(
        &self,
        xb: &[E],
        u: &[f32],
        bias: Option<&[E]>,
        s: &mut WinogradScratch,
        ob: &mut [E],
        accumulate: bool,
        geom: &ConvGeom,
    ) {
        const F32: &str = "winograd: planned for f32 only";
        let (xb, ob) = (E::as_f32(xb).expect(F32), E::as_f32_mut(ob).expect(F32));
        let bias = bias.map(|b| E::as_f32(b).expect(F32));
        let (co, ci) = (geom.c_out, geom.c_in);
        let (ho, wo) = (geom.h_out, geom.w_out);
        let tc = self.chunk_tiles();
        let (vs, ms) = (self.plane_stride(ci), self.plane_stride(co));
        assert_eq!(xb.len(), ci * geom.h_in * geom.w_in, "winograd: input");
        assert_eq!(ob.len(), co * ho * wo, "winograd: output");
        assert_eq!(u.len(), 16 * co * ci, "winograd: transformed weight");
        assert!(bias.is_none_or(|b| b.len() == co), "winograd: bias");
        self.fill(xb, &mut s.split, geom);
        for ty0 in (0..self.th).step_by(self.chunk_rows) {
            let rows = self.chunk_rows.min(self.th - ty0);
            self.input_chunk(s, (ty0, rows), ci);
            let blocks = match rows == self.chunk_rows {
                true => &self.blocks_full,
                false => &self.blocks_last,
            };
            for xi in 0..16 {
                let done = sgemm_row_table(
                    co,
                    blocks,
                    (&mut s.m[xi * ms..xi * ms + co * tc], tc, false),
                    (&u[xi * co * ci..(xi + 1) * co * ci], ci),
                    &s.v[xi * vs..xi * vs + ci * tc],
                    &self.row_offsets,
                );
                debug_assert!(done, "winograd: row-table kernel vanished");
            }
            // Output rows `2ty, 2ty + 1` of channel `k` from `M`.
            for (k, plane) in ob.chunks_mut(ho * wo).enumerate() {
                let bk = match (bias, accumulate) {
                    (Some(b), false) => b[k],
                    _ => 0.0,
                };
                for l in 0..rows {
                    let oy = 2 * (ty0 + l);
                    let pair = &mut plane[oy * wo..((oy + 2) * wo).min(ho * wo)];
                    let at = k * tc + l * self.tw;
                    // SAFETY: AVX-512F (`new`); `m` holds 16 planes `ms`
                    // apart and `at + tw <= co * tc <= ms`; `pair` is one
                    // or two output rows of `wo` and `2 tw - 1 <= wo <= 2 tw`.
                    unsafe {
                        avx512::output_tiles(&s.m[at..], ms, self.tw, pair, wo, (bk, accumulate));
                    }
                }
            }
        }
    }

    /// `V [16][Cin][tc]` of tile rows `ty0..ty0 + rows` from the split
    /// image in `s` (tile row `ty` of channel `c` from split rows
    /// `2ty..2ty + 4`).
    fn input_chunk(&self, s: &mut WinogradScratch, (ty0, rows): (usize, usize), ci: usize) {
        let (rw, w2) = (self.rw, 2 * self.rw);
        let (tc, vs) = (self.chunk_tiles(), self.plane_stride(ci));
        for (c, img) in s.split.chunks(self.hs * w2).enumerate() {
            for l in 0..rows {
                let top = &img[2 * (ty0 + l) * w2..(2 * (ty0 + l) + 4) * w2];
                let at = c * tc + l * self.tw;
                // SAFETY: AVX-512F (`new`); `top` holds 4 split rows of
                // `2 rw`; `v` holds 16 planes `vs` apart and
                // `at + tw <= ci * tc <= vs`.
                unsafe { avx512::input_tiles(top, rw, self.tw, &mut s.v[at..], vs) };
            }
        }
    }

    /// Adds one sample's part of the weight gradient in the transformed
    /// domain: `dU[ξ] [Cout, Cin] += Ŷ[ξ] [Cout, T] x V[ξ]^T` over its
    /// tiles, where `Ŷ = A dY A^T` is the 4 x 4 transform of each 2 x 2
    /// tile of its output gradient `gob [Cout, h_out, w_out]` and `V` that
    /// of its input `xb` (the adjoint of `Y = A^T (U ∘ V) A`). `du` holds
    /// `16 * Cout * Cin` values; [`Self::add_weight_grad`] takes it back to
    /// `dW`.
    pub(super) fn weight_grad_sample<E: Elem>(
        &self,
        xb: &[E],
        gob: &[E],
        s: &mut WinogradScratch,
        du: &mut [E],
        geom: &ConvGeom,
    ) {
        const F32: &str = "winograd: planned for f32 only";
        let (xb, gob) = (E::as_f32(xb).expect(F32), E::as_f32(gob).expect(F32));
        let du = E::as_f32_mut(du).expect(F32);
        let (co, ci) = (geom.c_out, geom.c_in);
        let (ho, wo) = (geom.h_out, geom.w_out);
        let tc = self.chunk_tiles();
        let (vs, ms) = (self.plane_stride(ci), self.plane_stride(co));
        assert_eq!(xb.len(), ci * geom.h_in * geom.w_in, "winograd: input");
        assert_eq!(gob.len(), co * ho * wo, "winograd: output gradient");
        assert_eq!(
            du.len(),
            16 * co * ci,
            "winograd: transformed weight gradient"
        );
        self.fill(xb, &mut s.split, geom);
        for ty0 in (0..self.th).step_by(self.chunk_rows) {
            let rows = self.chunk_rows.min(self.th - ty0);
            self.input_chunk(s, (ty0, rows), ci);
            // Ŷ [16][Cout][tc] into `m`.
            for (k, plane) in gob.chunks(ho * wo).enumerate() {
                for l in 0..rows {
                    let oy = 2 * (ty0 + l);
                    let pair = &plane[oy * wo..((oy + 2) * wo).min(ho * wo)];
                    let at = k * tc + l * self.tw;
                    // SAFETY: AVX-512F (`new`); `m` holds 16 planes `ms`
                    // apart and `at + tw <= co * tc <= ms`; `pair` is one
                    // or two rows of `wo` and `2 tw - 1 <= wo <= 2 tw`.
                    unsafe { avx512::grad_tiles(pair, wo, self.tw, &mut s.m[at..], ms) };
                }
            }
            let n = rows * self.tw;
            for xi in 0..16 {
                let done = crate::kernels::sgemm::sgemm_col_table(
                    (co, n),
                    (&mut du[xi * co * ci..(xi + 1) * co * ci], ci, true),
                    (&s.m[xi * ms..xi * ms + co * tc], tc),
                    &s.v[xi * vs..xi * vs + ci * tc],
                    &self.row_offsets,
                );
                debug_assert!(done, "winograd: col-table kernel vanished");
            }
        }
    }

    /// `dW [Cout, Cin * 9] += G^T dU G` per pair of channels (the adjoint
    /// of [`Self::weight`]'s `U = G g G^T`).
    pub(super) fn add_weight_grad<E: Elem>(&self, du: &[E], dw: &mut [E], geom: &ConvGeom) {
        const F32: &str = "winograd: planned for f32 only";
        let (du, dw) = (E::as_f32(du).expect(F32), E::as_f32_mut(dw).expect(F32));
        let (co, ci) = (geom.c_out, geom.c_in);
        assert_eq!(
            du.len(),
            16 * co * ci,
            "winograd: transformed weight gradient"
        );
        assert_eq!(dw.len(), co * ci * 9, "winograd: weight gradient");
        // G^T applied to four values (a column or row of dU).
        let gt =
            |a: f32, b: f32, c: f32, d: f32| [a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d];
        for (kc, g) in dw.chunks_exact_mut(9).enumerate() {
            let u = |xi: usize| du[xi * co * ci + kc];
            // dU G: row a of dU through G^T, then the columns.
            let rows: [[f32; 3]; 4] =
                core::array::from_fn(|a| gt(u(4 * a), u(4 * a + 1), u(4 * a + 2), u(4 * a + 3)));
            for j in 0..3 {
                let col = gt(rows[0][j], rows[1][j], rows[2][j], rows[3][j]);
                for i in 0..3 {
                    g[3 * i + j] += col[i];
                }
            }
        }
    }

    /// Copies sample `xb [Cin, H, W]` into the split padded image (see the
    /// module docs); the borders are left as they are (zero: the scratch
    /// zeroes the image once, and every sample writes the same places).
    fn fill(&self, xb: &[f32], split: &mut [f32], geom: &ConvGeom) {
        let (h, wi) = (geom.h_in, geom.w_in);
        if h == 0 || wi == 0 {
            return;
        }
        let (pt, pl) = (geom.pad_begin.0 as usize, geom.pad_begin.1 as usize);
        let (rw, w2) = (self.rw, 2 * self.rw);
        // Input columns past the last padded column a tile reads are not read.
        let wcopy = wi.min(w2.saturating_sub(pl));
        // Even input columns land in the even half when `pl` is even.
        let (off_a, off_b) = (pl / 2, pl.div_ceil(2));
        for (plane, img) in xb.chunks(h * wi).zip(split.chunks_mut(self.hs * w2)) {
            for (y, line) in plane.chunks(wi).enumerate() {
                let r = y + pt;
                if r >= self.hs {
                    break;
                }
                let (even, odd) = img[r * w2..(r + 1) * w2].split_at_mut(rw);
                let (a, b) = match pl % 2 {
                    0 => (&mut even[off_a..], &mut odd[off_b..]),
                    _ => (&mut odd[off_a..], &mut even[off_b..]),
                };
                let line = &line[..wcopy];
                let (a, b) = (&mut a[..wcopy.div_ceil(2)], &mut b[..wcopy / 2]);
                // SAFETY: AVX-512F (`new`); `a` and `b` hold the even and
                // odd values of `line`.
                unsafe { avx512::deinterleave(line, a, b) };
            }
        }
    }
}

/// The buffers of [`Winograd::forward_sample`], made once per run of samples.
pub(super) struct WinogradScratch {
    /// The split padded image, zeroed once (its borders stay zero).
    split: Vec<f32>,
    /// `V [16][Cin][T]` and `M [16][Cout][T]` of one chunk of tiles (planes
    /// [`Winograd::plane_stride`] apart; every
    /// element read is written first: by the input transform, and by the
    /// products for the columns the output transform reads).
    v: Vec<f32>,
    m: Vec<f32>,
}

impl WinogradScratch {
    pub(super) fn new(plan: &Winograd, geom: &ConvGeom) -> Self {
        Self {
            split: vec![0.0; geom.c_in * plan.hs * 2 * plan.rw],
            v: vec![0.0; 16 * plan.plane_stride(geom.c_in)],
            m: vec![0.0; 16 * plan.plane_stride(geom.c_out)],
        }
    }
}

/// The transforms, 16 tiles (or pixels) per vector.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    use crate::kernels::sgemm::lanes;

    /// Lane `i` of the pair `(a, b)`: `a` below 16, `b[i - 16]` above.
    const INTERLEAVE_LO: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
    const INTERLEAVE_HI: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];
    const EVENS: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    const ODDS: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];

    #[inline(always)]
    fn index(v: [i32; 16]) -> __m512i {
        // SAFETY: an unaligned load of 16 `i32` from an array of 16.
        unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
    }

    /// `a[j] = src[2j]`, `b[j] = src[2j + 1]`.
    ///
    /// # Safety
    /// AVX-512F; `a.len() >= ceil(src.len() / 2)`, `b.len() >= src.len() / 2`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn deinterleave(src: &[f32], a: &mut [f32], b: &mut [f32]) {
        let (evens, odds) = (index(EVENS), index(ODDS));
        for s0 in (0..src.len()).step_by(32) {
            let cnt = (src.len() - s0).min(32);
            // SAFETY: lanes below `cnt` are inside `src`; masked-off lanes
            // are not read; the second vector only when it has lanes.
            let (v0, v1) = unsafe {
                let p = src.as_ptr().add(s0);
                let v1 = match cnt > 16 {
                    true => _mm512_maskz_loadu_ps(lanes(cnt - 16), p.add(16)),
                    false => _mm512_setzero_ps(),
                };
                (_mm512_maskz_loadu_ps(lanes(cnt), p), v1)
            };
            let ev = _mm512_permutex2var_ps(v0, evens, v1);
            let od = _mm512_permutex2var_ps(v0, odds, v1);
            // SAFETY: `s0 / 2 + ceil(cnt / 2) <= a.len()` and
            // `s0 / 2 + cnt / 2 <= b.len()` (`s0` even).
            unsafe {
                _mm512_mask_storeu_ps(a.as_mut_ptr().add(s0 / 2), lanes(cnt.div_ceil(2)), ev);
                if cnt >= 2 {
                    _mm512_mask_storeu_ps(b.as_mut_ptr().add(s0 / 2), lanes(cnt / 2), od);
                }
            }
        }
    }

    /// `V[ξ][tx] = (B^T d B)[ξ]` for the `tw` tiles of one tile row of one
    /// channel: `top` holds its 4 split rows (`2 rw` each: even columns,
    /// then odd), `v[ξ * xi_stride + tx]` receives element `ξ` of tile `tx`.
    ///
    /// # Safety
    /// AVX-512F; `top.len() >= 8 rw`, `rw == tw + 1`, `v.len() >= 15 *
    /// xi_stride + tw`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input_tiles(
        top: &[f32],
        rw: usize,
        tw: usize,
        v: &mut [f32],
        xi_stride: usize,
    ) {
        debug_assert!(top.len() >= 8 * rw && rw == tw + 1 && v.len() >= 15 * xi_stride + tw);
        let src = top.as_ptr();
        let dst = v.as_mut_ptr();
        for tx0 in (0..tw).step_by(16) {
            let k = lanes(tw - tx0);
            // Patch row j, columns 2tx .. 2tx + 3: even tx, odd tx, even
            // tx + 1, odd tx + 1.
            let mut p = [[_mm512_setzero_ps(); 4]; 4];
            for (j, pj) in p.iter_mut().enumerate() {
                let at = j * 2 * rw + tx0;
                // SAFETY: the last lane read is at most
                // `j * 2rw + rw + tw` < `8 rw` (masked lanes are not read).
                unsafe {
                    *pj = [
                        _mm512_maskz_loadu_ps(k, src.add(at)),
                        _mm512_maskz_loadu_ps(k, src.add(at + rw)),
                        _mm512_maskz_loadu_ps(k, src.add(at + 1)),
                        _mm512_maskz_loadu_ps(k, src.add(at + rw + 1)),
                    ];
                }
            }
            // Rows of B^T d: 0 - 2, 1 + 2, 2 - 1, 1 - 3 (per column q).
            let mut d = [[_mm512_setzero_ps(); 4]; 4];
            for q in 0..4 {
                d[0][q] = _mm512_sub_ps(p[0][q], p[2][q]);
                d[1][q] = _mm512_add_ps(p[1][q], p[2][q]);
                d[2][q] = _mm512_sub_ps(p[2][q], p[1][q]);
                d[3][q] = _mm512_sub_ps(p[1][q], p[3][q]);
            }
            for (i, d) in d.iter().enumerate() {
                // Times B: the same along the row.
                let out = [
                    _mm512_sub_ps(d[0], d[2]),
                    _mm512_add_ps(d[1], d[2]),
                    _mm512_sub_ps(d[2], d[1]),
                    _mm512_sub_ps(d[1], d[3]),
                ];
                for (b, o) in out.into_iter().enumerate() {
                    // SAFETY: `(4i + b) * xi_stride + tx0` plus at most
                    // `tw - tx0` lanes stays inside `v`.
                    unsafe { _mm512_mask_storeu_ps(dst.add((4 * i + b) * xi_stride + tx0), k, o) };
                }
            }
        }
    }

    /// `Ŷ[ξ][tx] = (A dY A^T)[ξ]` for the `tw` tiles of one tile row of
    /// one channel's output gradient: `pair` holds its rows `2ty` (and
    /// `2ty + 1`, when two rows of `wo`); pixels past the output are zero.
    /// `m[ξ * xi_stride + tx]` receives element `ξ` of tile `tx`.
    ///
    /// # Safety
    /// AVX-512F; `pair.len()` is `wo` or `2 wo` with `2 tw - 1 <= wo <= 2
    /// tw`; `m.len() >= 15 * xi_stride + tw`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_tiles(
        pair: &[f32],
        wo: usize,
        tw: usize,
        m: &mut [f32],
        xi_stride: usize,
    ) {
        debug_assert!(pair.len() == wo || pair.len() == 2 * wo);
        debug_assert!(wo <= 2 * tw && wo + 1 >= 2 * tw);
        debug_assert!(m.len() >= 15 * xi_stride + tw);
        let (evens, odds) = (index(EVENS), index(ODDS));
        let rows = pair.len() / wo.max(1);
        let dst = m.as_mut_ptr();
        for tx0 in (0..tw).step_by(16) {
            let k = lanes(tw - tx0);
            let x0 = 2 * tx0;
            let cnt = (wo - x0).min(32);
            // Row a of the tile: its even and odd pixels (zero past the
            // output, and for a missing second row).
            let mut y = [[_mm512_setzero_ps(); 2]; 2];
            for (a, ya) in y.iter_mut().enumerate().take(rows) {
                // SAFETY: pixels `x0..x0 + cnt` of row `a` are inside
                // `pair`; the second vector only when it has lanes.
                let (v0, v1) = unsafe {
                    let p = pair.as_ptr().add(a * wo + x0);
                    let v1 = match cnt > 16 {
                        true => _mm512_maskz_loadu_ps(lanes(cnt - 16), p.add(16)),
                        false => _mm512_setzero_ps(),
                    };
                    (_mm512_maskz_loadu_ps(lanes(cnt), p), v1)
                };
                *ya = [
                    _mm512_permutex2var_ps(v0, evens, v1),
                    _mm512_permutex2var_ps(v0, odds, v1),
                ];
            }
            // A dY: per row a, [y0, y0 + y1, y0 - y1, -y1] (then the same
            // down the columns).
            let zero = _mm512_setzero_ps();
            let mut r = [[zero; 4]; 2];
            for (ra, ya) in r.iter_mut().zip(&y) {
                *ra = [
                    ya[0],
                    _mm512_add_ps(ya[0], ya[1]),
                    _mm512_sub_ps(ya[0], ya[1]),
                    _mm512_sub_ps(zero, ya[1]),
                ];
            }
            for (j, (&r0, &r1)) in r[0].iter().zip(&r[1]).enumerate() {
                let col = [
                    r0,
                    _mm512_add_ps(r0, r1),
                    _mm512_sub_ps(r0, r1),
                    _mm512_sub_ps(zero, r1),
                ];
                for (i, v) in col.into_iter().enumerate() {
                    // SAFETY: `(4i + j) * xi_stride + tx0` plus at most
                    // `tw - tx0` lanes stays inside `m`.
                    unsafe { _mm512_mask_storeu_ps(dst.add((4 * i + j) * xi_stride + tx0), k, v) };
                }
            }
        }
    }

    /// Output rows `2ty` (and `2ty + 1`, when `pair` holds two rows of
    /// `wo`) of one channel from `M[ξ][tx]` (`m[ξ * xi_stride + tx]`) of
    /// its `tw` tiles: `(A^T M A)[a][b]` at pixel `(2ty + a, 2tx + b)` plus
    /// `bias`, or added to what is there with `accumulate`.
    ///
    /// # Safety
    /// AVX-512F; `m.len() >= 15 * xi_stride + tw`; `pair.len()` is `wo` or
    /// `2 wo` with `2 tw - 1 <= wo <= 2 tw`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn output_tiles(
        m: &[f32],
        xi_stride: usize,
        tw: usize,
        pair: &mut [f32],
        wo: usize,
        (bias, accumulate): (f32, bool),
    ) {
        debug_assert!(m.len() >= 15 * xi_stride + tw);
        debug_assert!(pair.len() == wo || pair.len() == 2 * wo);
        debug_assert!(wo <= 2 * tw && wo + 1 >= 2 * tw);
        let (lo_idx, hi_idx) = (index(INTERLEAVE_LO), index(INTERLEAVE_HI));
        let bias = _mm512_set1_ps(bias);
        let src = m.as_ptr();
        let out_rows = pair.len() / wo.max(1);
        for tx0 in (0..tw).step_by(16) {
            let k = lanes(tw - tx0);
            let mut mm = [_mm512_setzero_ps(); 16];
            for (xi, v) in mm.iter_mut().enumerate() {
                // SAFETY: `xi * xi_stride + tx0` plus at most `tw - tx0`
                // lanes stays inside `m`.
                *v = unsafe { _mm512_maskz_loadu_ps(k, src.add(xi * xi_stride + tx0)) };
            }
            // M A per row i: columns 0 + 1 + 2 and 1 - 2 - 3.
            let mut h = [[_mm512_setzero_ps(); 2]; 4];
            for (i, hi) in h.iter_mut().enumerate() {
                let r = &mm[4 * i..4 * i + 4];
                hi[0] = _mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]);
                hi[1] = _mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]);
            }
            let x0 = 2 * tx0;
            let cnt = (wo - x0).min(32);
            let (k_lo, k_hi) = (lanes(cnt), lanes(cnt.saturating_sub(16)));
            for a in 0..out_rows {
                // A^T (M A): rows 0 + 1 + 2 and 1 - 2 - 3.
                let mut y = [_mm512_setzero_ps(); 2];
                for (b, yb) in y.iter_mut().enumerate() {
                    *yb = match a {
                        0 => _mm512_add_ps(_mm512_add_ps(h[0][b], h[1][b]), h[2][b]),
                        _ => _mm512_sub_ps(_mm512_sub_ps(h[1][b], h[2][b]), h[3][b]),
                    };
                }
                let (y0, y1) = (_mm512_add_ps(y[0], bias), _mm512_add_ps(y[1], bias));
                let mut lo = _mm512_permutex2var_ps(y0, lo_idx, y1);
                let mut hi = _mm512_permutex2var_ps(y0, hi_idx, y1);
                // SAFETY: pixels `x0..x0 + cnt` of row `a` are inside
                // `pair` (`x0 < wo`); the second vector only when it has
                // lanes.
                unsafe {
                    let row = pair.as_mut_ptr().add(a * wo + x0);
                    if accumulate {
                        lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(k_lo, row));
                    }
                    _mm512_mask_storeu_ps(row, k_lo, lo);
                    if cnt > 16 {
                        if accumulate {
                            hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(k_hi, row.add(16)));
                        }
                        _mm512_mask_storeu_ps(row.add(16), k_hi, hi);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct convolution in `f64` (reference).
    fn direct(x: &[f32], w: &[f32], bias: &[f32], geom: &ConvGeom) -> Vec<f64> {
        let (ci, h, wi, co, ho, wo) = (
            geom.c_in, geom.h_in, geom.w_in, geom.c_out, geom.h_out, geom.w_out,
        );
        let (pt, pl) = geom.pad_begin;
        let mut out = vec![0.0; co * ho * wo];
        for k in 0..co {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut s = bias[k] as f64;
                    for c in 0..ci {
                        for i in 0..3 {
                            for j in 0..3 {
                                let y = (oy + i) as isize - pt;
                                let xx = (ox + j) as isize - pl;
                                if y < 0 || xx < 0 || y >= h as isize || xx >= wi as isize {
                                    continue;
                                }
                                let xv = x[c * h * wi + y as usize * wi + xx as usize];
                                s += w[(k * ci + c) * 9 + i * 3 + j] as f64 * xv as f64;
                            }
                        }
                    }
                    out[k * ho * wo + oy * wo + ox] = s;
                }
            }
        }
        out
    }

    /// Deterministic values in `[-1, 1)`.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let v = crate::kernels::test_values(n, seed);
        v.into_iter().map(|v| v * 0.5).collect()
    }

    #[test]
    fn matches_the_direct_convolution() {
        if !crate::kernels::sgemm::has_avx512() {
            eprintln!("no AVX-512F: the Winograd path does not apply here");
            return;
        }
        // (c_in, h, w, c_out, padding (t, b, l, r), chunk rows)
        let cases = [
            (8, 6, 6, 8, (1, 1, 1, 1), None),
            (9, 11, 13, 10, (1, 1, 1, 1), Some(2)),
            (16, 17, 35, 12, (0, 0, 0, 0), Some(3)),
            (8, 7, 5, 9, (2, 0, 1, 2), None),
            (12, 4, 40, 8, (1, 2, 3, 0), Some(1)),
            (32, 32, 32, 32, (1, 1, 1, 1), None),
            (8, 1, 1, 8, (1, 1, 1, 1), None),
        ];
        for (n, &(ci, h, w, co, pad, chunk)) in cases.iter().enumerate() {
            let geom = ConvGeom::conv2d(1, (ci, h, w), co, (3, 3), (1, 1), (1, 1), 1, pad);
            let plan = Winograd::with_chunk_rows::<f32>(&geom, chunk).expect("applies");
            let x = values(ci * h * w, 3 * n as u64 + 1);
            let wt = values(co * ci * 9, 3 * n as u64 + 2);
            let bias = values(co, 3 * n as u64 + 3);
            let want = direct(&x, &wt, &bias, &geom);
            let u = plan.weight(&wt, &geom);
            let mut s = WinogradScratch::new(&plan, &geom);
            // Twice through the same scratch: stale contents must not leak.
            for _ in 0..2 {
                let mut got = vec![f32::NAN; co * geom.h_out * geom.w_out];
                plan.forward_sample(&x, &u, Some(&bias), &mut s, &mut got, false, &geom);
                // Sums of 9 * Cin products of values below 1.
                let tol = 1e-5 * (9 * ci) as f64;
                for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g as f64 - e).abs() <= tol,
                        "case {n} ({ci}x{h}x{w} -> {co}, pad {pad:?}) [{i}]: {g} vs {e}"
                    );
                }
                // With `accumulate`: added to what is there, no bias.
                let mut acc = vec![1.0f32; got.len()];
                plan.forward_sample(&x, &u, Some(&bias), &mut s, &mut acc, true, &geom);
                for (i, ((&a, &g), &b)) in
                    acc.iter().zip(&got).zip(&bias_of(&bias, &geom)).enumerate()
                {
                    assert!(
                        (a as f64 - (1.0 + g as f64 - b as f64)).abs() <= tol,
                        "case {n} accumulate [{i}]: {a} vs {}",
                        1.0 + g - b
                    );
                }
            }
        }
    }

    #[test]
    fn weight_gradient_matches_the_direct_sum() {
        if !crate::kernels::sgemm::has_avx512() {
            return;
        }
        // (c_in, h, w, c_out, padding, chunk rows)
        let cases = [
            (8, 6, 6, 8, (1, 1, 1, 1), None),
            (9, 11, 13, 10, (1, 1, 1, 1), Some(2)),
            (8, 7, 37, 9, (2, 0, 1, 2), Some(1)),
            (16, 16, 16, 8, (0, 0, 0, 0), None),
        ];
        for (n, &(ci, h, w, co, pad, chunk)) in cases.iter().enumerate() {
            let geom = ConvGeom::conv2d(1, (ci, h, w), co, (3, 3), (1, 1), (1, 1), 1, pad);
            let plan = Winograd::with_chunk_rows::<f32>(&geom, chunk).expect("applies");
            let (ho, wo) = (geom.h_out, geom.w_out);
            let (pt, pl) = geom.pad_begin;
            let x = values(ci * h * w, 5 * n as u64 + 1);
            let gy = values(co * ho * wo, 5 * n as u64 + 2);
            let mut s = WinogradScratch::new(&plan, &geom);
            let mut du = vec![0.0; 16 * co * ci];
            // Two samples' worth: the same one twice (accumulates).
            plan.weight_grad_sample(&x, &gy, &mut s, &mut du, &geom);
            plan.weight_grad_sample(&x, &gy, &mut s, &mut du, &geom);
            let mut dw = vec![0.5f32; co * ci * 9];
            plan.add_weight_grad(&du, &mut dw, &geom);
            for k in 0..co {
                for c in 0..ci {
                    for (i, j) in (0..3).flat_map(|i| (0..3).map(move |j| (i, j))) {
                        let mut want = 0.0f64;
                        for oy in 0..ho {
                            for ox in 0..wo {
                                let (y, xx) = ((oy + i) as isize - pt, (ox + j) as isize - pl);
                                if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                    continue;
                                }
                                let xv = x[c * h * w + y as usize * w + xx as usize] as f64;
                                want += gy[k * ho * wo + oy * wo + ox] as f64 * xv;
                            }
                        }
                        let want = 0.5 + 2.0 * want;
                        let got = dw[(k * ci + c) * 9 + 3 * i + j] as f64;
                        let tol = 1e-5 * (2 * ho * wo) as f64;
                        assert!(
                            (got - want).abs() <= tol,
                            "case {n} dW[{k}, {c}, {i}, {j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// The bias of each output element.
    fn bias_of(bias: &[f32], geom: &ConvGeom) -> Vec<f32> {
        let p = geom.h_out * geom.w_out;
        bias.iter()
            .flat_map(|&b| std::iter::repeat_n(b, p))
            .collect()
    }

    #[test]
    fn applies_only_to_plain_3x3_stride_1_with_enough_channels() {
        if !crate::kernels::sgemm::has_avx512() {
            return;
        }
        let conv = |ci, co, k, s, d, g| {
            ConvGeom::conv2d(2, (ci, 9, 9), co, (k, k), (s, s), (d, d), g, (1, 1, 1, 1))
        };
        assert!(Winograd::new::<f32>(&conv(8, 8, 3, 1, 1, 1)).is_some());
        assert!(Winograd::new::<f64>(&conv(8, 8, 3, 1, 1, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(7, 8, 3, 1, 1, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(8, 7, 3, 1, 1, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(8, 8, 5, 1, 1, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(8, 8, 3, 2, 1, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(8, 8, 3, 1, 2, 1)).is_none());
        assert!(Winograd::new::<f32>(&conv(8, 8, 3, 1, 1, 2)).is_none());
        let transposed =
            ConvGeom::conv_transpose2d(1, (8, 5, 5), 8, (3, 3), (2, 2), (1, 1), (0, 0));
        assert!(Winograd::new::<f32>(&transposed).is_none());
    }
}
