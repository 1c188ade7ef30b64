//! Convolutions on the CPU over a zero-bordered copy of each sample
//! (strided ones too, not transposed ones): the im2col matrix is built by
//! plain copies without the per-pixel padding tests and short fills of the
//! general im2col, and at stride 1 its rows are shifted views of the
//! padded image, so inference does not build it at all (the product reads
//! the views in place).
//!
//! The sample `[Cin, H, W]` is copied into `xpad [Cin, Hp, Wp]` with zero
//! borders; output pixel `(oy, ox)` at tap `(c, i, j)` reads padded pixel
//! `(c, oy*sh + i*dh, ox*sw + j*dw)`. At stride 1, with "wide" pixels `q = oy * Wp + ox`
//! (`ox < Wp`; the columns past `w_out` are computed and dropped) the im2col
//! row `(c, i, j)` is the contiguous run `xpad[c*Hp*Wp + i*dh*Wp + j*dw..][..h_out*Wp]`.

use crate::elem::Elem;
use crate::kernels::add_run;
use crate::kernels::sgemm::Block;
use crate::layers::conv_geom::ConvGeom;

/// Padded geometry of one convolution and where each im2col row starts in
/// the padded image (its pixel `(oy, ox)` at `rows[r] + oy*sh*Wp + ox*sw`).
pub(super) struct Padded {
    /// Padded height and width.
    hp: usize,
    wp: usize,
    /// Per im2col row `(c, i, j)` (all `Cin` channels), its offset in `xpad`.
    rows: Vec<usize>,
    /// Whether the stride-1 product writes the output pixels in place
    /// (`blocks` of 16-pixel pieces of output rows) instead of the wide
    /// pixels (then compacted): where that takes at most a tenth more
    /// vectors (output rows a multiple of 16 wide take fewer, and no
    /// compaction).
    direct: bool,
    /// The columns of the stride-1 product ([`Block`]s): pieces of output
    /// rows when `direct`, else runs of 64 wide pixels; empty at other
    /// strides.
    blocks: Vec<Block>,
}

impl Padded {
    /// The plan for `geom`, or `None` where it does not apply: zero
    /// insertion (transposed convolutions), cropping, empty output.
    pub(super) fn new(geom: &ConvGeom) -> Option<Self> {
        let (kh, kw) = geom.kernel;
        let (dh, dw) = geom.dilation;
        let (sh, sw) = geom.stride;
        let (pt, pl) = geom.pad_begin;
        if geom.in_dilation != (1, 1) || pt < 0 || pl < 0 || sh == 0 || sw == 0 {
            return None;
        }
        if geom.h_out == 0 || geom.w_out == 0 || kh == 0 || kw == 0 {
            return None;
        }
        let (pt, pl) = (pt as usize, pl as usize);
        // The last output pixel's last tap, or the image, whichever ends later.
        let hp = ((geom.h_out - 1) * sh + (kh - 1) * dh + 1).max(pt + geom.h_in);
        let wp = ((geom.w_out - 1) * sw + (kw - 1) * dw + 1).max(pl + geom.w_in);
        let mut rows = Vec::with_capacity(geom.c_in * kh * kw);
        for c in 0..geom.c_in {
            for i in 0..kh {
                for j in 0..kw {
                    rows.push(c * hp * wp + i * dh * wp + j * dw);
                }
            }
        }
        let (ho, wo) = (geom.h_out, geom.w_out);
        let direct_vectors = ho * wo.div_ceil(16);
        let wide_vectors = (ho * wp).div_ceil(16);
        let direct = direct_vectors * 10 <= wide_vectors * 11;
        let blocks = match (geom.stride, direct) {
            ((1, 1), true) => {
                // Output row `oy`, pixels `x..x + len` read the wide pixels
                // from `oy * Wp + x`.
                let pieces: Vec<(usize, usize, usize)> = (0..ho)
                    .flat_map(|oy| {
                        (0..wo)
                            .step_by(16)
                            .map(move |x| (oy * wp + x, oy * wo + x, (wo - x).min(16)))
                    })
                    .collect();
                pieces
                    .chunks(4)
                    .map(|four| {
                        let get = |h: usize| four.get(h).copied().unwrap_or((0, 0, 0));
                        Block {
                            src: core::array::from_fn(|h| get(h).0),
                            dst: core::array::from_fn(|h| get(h).1),
                            len: core::array::from_fn(|h| get(h).2),
                        }
                    })
                    .collect()
            }
            ((1, 1), false) => (0..ho * wp)
                .step_by(64)
                .map(|j0| Block::contiguous(j0, (ho * wp - j0).min(64)))
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            hp,
            wp,
            rows,
            direct,
            blocks,
        })
    }

    /// Length of the padded copy: the image plus the last row's overrun
    /// (the wide pixels of the last tap read up to `(kw-1)*dw` past it).
    pub(super) fn padded_len(&self, geom: &ConvGeom) -> usize {
        geom.c_in * self.hp * self.wp + (geom.kernel.1 - 1) * geom.dilation.1
    }

    /// Output pixels including the dropped columns: `h_out * Wp` (stride 1).
    pub(super) fn wide_pixels(&self, geom: &ConvGeom) -> usize {
        geom.h_out * self.wp
    }

    /// Length of the `wide` scratch [`Self::forward_sample`] takes: `Cout`
    /// planes of wide pixels, or none where the product writes the output
    /// pixels in place.
    pub(super) fn wide_len(&self, geom: &ConvGeom) -> usize {
        match self.direct {
            true => 0,
            false => geom.c_out * self.wide_pixels(geom),
        }
    }

    /// Whether inference should multiply the shifted views in place: stride
    /// 1, the element type and CPU have the kernel for it
    /// ([`Elem::host_gemm_row_table`]) and at most a quarter of the products
    /// go to dropped columns (`4 Wp <= 5 w_out`).
    pub(super) fn in_place_product<E: Elem>(&self, geom: &ConvGeom) -> bool {
        // An empty product tells whether the kernel exists here.
        geom.stride == (1, 1)
            && 4 * self.wp <= 5 * geom.w_out
            && E::host_gemm_row_table(0, &[], (&mut [], 0, false), (&[], 0), &[], &[])
    }

    /// Copies sample `xb [Cin, H, W]` into the interior of `xpad` (length
    /// [`Self::padded_len`]); the borders are left as they are (zero: the
    /// caller zeroes `xpad` once and reuses it for every sample).
    pub(super) fn fill<E: Elem>(&self, xb: &[E], xpad: &mut [E], geom: &ConvGeom) {
        let (hp, wp) = (self.hp, self.wp);
        let (h, wi) = (geom.h_in, geom.w_in);
        let (pt, pl) = (geom.pad_begin.0 as usize, geom.pad_begin.1 as usize);
        for (c, plane) in xb.chunks(h * wi).enumerate() {
            for (y, line) in plane.chunks(wi).enumerate() {
                let at = c * hp * wp + (y + pt) * wp + pl;
                copy_run(&mut xpad[at..at + wi], line);
            }
        }
    }

    /// Writes all of `xpad` (length [`Self::padded_len`]): sample `xb
    /// [Cin, H, W]` in the interior, zeros around it, in one pass (for a
    /// buffer kept per sample, whose old contents are stale).
    pub(super) fn fill_bordered<E: Elem>(&self, xb: &[E], xpad: &mut [E], geom: &ConvGeom) {
        let (hp, wp) = (self.hp, self.wp);
        let (h, wi) = (geom.h_in, geom.w_in);
        let (pt, pl) = (geom.pad_begin.0 as usize, geom.pad_begin.1 as usize);
        let (body, overrun) = xpad.split_at_mut(geom.c_in * hp * wp);
        overrun.fill(E::zero());
        for (dst, plane) in body.chunks_mut(hp * wp).zip(xb.chunks(h * wi)) {
            let (top, rest) = dst.split_at_mut(pt * wp);
            top.fill(E::zero());
            let (mid, bottom) = rest.split_at_mut(h * wp);
            bottom.fill(E::zero());
            for (row, line) in mid.chunks_mut(wp).zip(plane.chunks(wi)) {
                let (left, rest) = row.split_at_mut(pl);
                left.fill(E::zero());
                copy_run(&mut rest[..wi], line);
                rest[wi..].fill(E::zero());
            }
        }
    }

    /// Whether training should keep each sample's padded image instead of
    /// its im2col matrix (a ninth of the memory for a 3 x 3 kernel): where
    /// inference multiplies in place ([`Self::in_place_product`]) and the
    /// weight gradient has a kernel that reads the shifted views in place
    /// ([`Elem::host_gemm_col_table`]).
    pub(super) fn keeps_padded_input<E: Elem>(&self, geom: &ConvGeom) -> bool {
        self.in_place_product::<E>(geom)
            && E::host_gemm_col_table((0, 0), (&mut [], 0, false), (&[], 0), &[], &[])
    }

    /// Adds one sample's weight gradient `dW [Cout, Kg] += dOut x cols^T`
    /// (per group) from its output gradient `gob [Cout, P]` and its padded
    /// input `xpad` ([`Self::fill_bordered`]), without the im2col matrix:
    /// over the wide pixels `q = oy * Wp + ox`, `cols` row `(c, i, j)` is
    /// `xpad[rows[(c, i, j)] + q]`, and `dOut` widened into `wide [Cout,
    /// h_out*Wp]` has zeros in the dropped columns (the caller zeroes
    /// `wide` once; only the kept columns are written here). Only where
    /// [`Self::keeps_padded_input`].
    pub(super) fn weight_grad_sample<E: Elem>(
        &self,
        xpad: &[E],
        gob: &[E],
        wide: &mut [E],
        dw: &mut [E],
        geom: &ConvGeom,
    ) {
        let (ho, wo) = (geom.h_out, geom.w_out);
        let q = self.wide_pixels(geom);
        for (src, dst) in gob.chunks(ho * wo).zip(wide.chunks_mut(q)) {
            for (s, d) in src.chunks(wo).zip(dst.chunks_mut(self.wp)) {
                copy_run(&mut d[..wo], s);
            }
        }
        let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
        let plane_g = geom.c_in_per_group() * self.hp * self.wp;
        for g in 0..geom.groups {
            // Columns of group `g` are those of group 0 moved by `g` planes.
            let done = E::host_gemm_col_table(
                (cog, q),
                (&mut dw[g * cog * kg..], kg, true),
                (&wide[g * cog * q..], q),
                &xpad[g * plane_g..],
                &self.rows[..kg],
            );
            debug_assert!(done, "conv: col-table kernel vanished after the probe");
        }
    }

    /// The im2col matrix `cols [CIK, P]` of the sample in `xpad` (filled by
    /// [`Self::fill`]): row `(c, i, j)`, output row `oy` is the `w_out`
    /// values at `rows[(c, i, j)] + oy*sh*Wp` with step `sw`.
    pub(super) fn im2col<E: Elem>(&self, xpad: &[E], cols: &mut [E], geom: &ConvGeom) {
        let (ho, wo) = (geom.h_out, geom.w_out);
        let (sh, sw) = geom.stride;
        for (dst, &off) in cols.chunks_mut(ho * wo).zip(&self.rows) {
            for (oy, d) in dst.chunks_mut(wo).enumerate() {
                let at = off + oy * sh * self.wp;
                if sw == 1 {
                    copy_run(d, &xpad[at..at + wo]);
                } else {
                    let src = &xpad[at..at + (wo - 1) * sw + 1];
                    for (v, &s) in d.iter_mut().zip(src.iter().step_by(sw)) {
                        *v = s;
                    }
                }
            }
        }
    }

    /// One sample's product (only where [`Self::in_place_product`]):
    /// `ob [Cout, P]` from the sample in `xpad` (filled by [`Self::fill`]),
    /// `wide` scratch of [`Self::wide_len`]. One product per group
    /// `W_g [Cout/G, Kg] x rows_g` sums in the im2col order (same results as
    /// the im2col path), into `ob` directly or into `wide [Cout,
    /// h_out*Wp]` and then compacted into `ob`; the bias is added after the
    /// sum as there. With `accumulate` the product is added to `ob` (then
    /// without a bias).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_sample<E: Elem>(
        &self,
        xpad: &[E],
        w: &[E],
        bias: Option<&[E]>,
        wide: &mut [E],
        ob: &mut [E],
        accumulate: bool,
        geom: &ConvGeom,
    ) {
        let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
        let plane_g = geom.c_in_per_group() * self.hp * self.wp;
        let (p, q) = (geom.out_pixels(), self.wide_pixels(geom));
        let product = |dst: &mut [E], dst_rs: usize, add: bool| {
            // Rows of group `g` are those of group 0 moved by `g` planes.
            for g in 0..geom.groups {
                let done = E::host_gemm_row_table(
                    cog,
                    &self.blocks,
                    (&mut dst[g * cog * dst_rs..], dst_rs, add),
                    (&w[g * cog * kg..], kg),
                    &xpad[g * plane_g..],
                    &self.rows[..kg],
                );
                debug_assert!(done, "conv: row-table kernel vanished after the probe");
            }
        };
        if self.direct {
            product(ob, p, accumulate);
            if let (Some(bias), false) = (bias, accumulate) {
                for (plane, &b) in ob.chunks_mut(p.max(1)).zip(bias) {
                    plane.iter_mut().for_each(|v| *v += b);
                }
            }
            return;
        }
        product(wide, q, false);
        let wo = geom.w_out;
        for (o, (d, s)) in ob.chunks_mut(p).zip(wide.chunks(q)).enumerate() {
            let b = bias.map_or(E::zero(), |b| b[o]);
            for (d, s) in d.chunks_mut(wo).zip(s.chunks(self.wp)) {
                if accumulate {
                    add_run(d, &s[..wo]);
                } else {
                    for (d, &s) in d.iter_mut().zip(&s[..wo]) {
                        *d = s + b;
                    }
                }
            }
        }
    }
}

/// `dst.copy_from_slice(src)` (same lengths) inline, 8 values at a time:
/// the runs here are a few dozen values, for which a `memcpy` call costs
/// more than the copy.
#[inline(always)]
fn copy_run<E: Copy>(dst: &mut [E], src: &[E]) {
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        // A constant length: an inline 8-value move, no `memcpy` call.
        d[..8].copy_from_slice(&s[..8]);
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = s;
    }
}

/// The input gradient of a stride-1 convolution as a stride-1 convolution
/// of the output gradient: `dx[c, y, x] = sum_{co, i', j'} W'[c, (co, i', j')]
/// dOut[co, y + i'*dh - pt', x + j'*dw - pl']` with the kernel flipped
/// (`i' = kh-1-i`), input and output channels swapped within each group
/// ([`flipped_weight`]) and padding `pt' = (kh-1)*dh - pt` (`pl'` alike).
/// `None` where `geom` is not a stride-1 convolution or `pt'`/`pl'` would
/// be negative.
pub(super) fn input_grad_geom(geom: &ConvGeom) -> Option<ConvGeom> {
    let (kh, kw) = geom.kernel;
    let (dh, dw) = geom.dilation;
    if geom.stride != (1, 1) || geom.in_dilation != (1, 1) || kh == 0 || kw == 0 {
        return None;
    }
    let pt = ((kh - 1) * dh) as isize - geom.pad_begin.0;
    let pl = ((kw - 1) * dw) as isize - geom.pad_begin.1;
    (pt >= 0 && pl >= 0).then_some(ConvGeom {
        batch: geom.batch,
        c_in: geom.c_out,
        h_in: geom.h_out,
        w_in: geom.w_out,
        c_out: geom.c_in,
        groups: geom.groups,
        kernel: geom.kernel,
        stride: (1, 1),
        dilation: geom.dilation,
        pad_begin: (pt, pl),
        in_dilation: (1, 1),
        h_out: geom.h_in,
        w_out: geom.w_in,
    })
}

/// The weight of [`input_grad_geom`]'s convolution, `[Cin, Cout/G * kh * kw]`:
/// `W'[g*Cin/G + c, (co, i', j')] = W[g*Cout/G + co, (c, kh-1-i', kw-1-j')]`
/// from `w [Cout, Cin/G * kh * kw]` (`geom`: the forward convolution).
pub(super) fn flipped_weight<E: Elem>(w: &[E], geom: &ConvGeom) -> Vec<E> {
    let (kh, kw) = geom.kernel;
    let (cog, cig) = (geom.c_out_per_group(), geom.c_in_per_group());
    let taps = kh * kw;
    let mut out = vec![E::zero(); geom.c_in * cog * taps];
    for g in 0..geom.groups {
        for c in 0..cig {
            for co in 0..cog {
                for t in 0..taps {
                    let src = (g * cog + co) * cig * taps + c * taps + (taps - 1 - t);
                    out[(g * cig + c) * cog * taps + co * taps + t] = w[src];
                }
            }
        }
    }
    out
}
