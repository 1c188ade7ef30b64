//! CPU fast path of the convolution core: per sample, im2col into a
//! contiguous matrix and one `gemm` per group; the backward pass (two more
//! gemms and a col2im scatter-add per sample) is hand-written and registered
//! on the dfdx tape. Samples run in parallel on the kernels' `team` (each gemm
//! single-threaded), which keeps every matrix of a sample in cache.
//!
//! Same contract as [`crate::layers::im2col::conv_forward`]; `Cpu`'s choice
//! in [`Backend`](crate::backend::Backend) for `f32` and `f64`. Per sample, with `P = h_out * w_out`,
//! `CIK = c_in * kh * kw` and `Kg = CIK / groups`, for each group `g` (row-major):
//! * `cols [CIK, P]`: row `(c, i, j)`, column `(oy, ox)`; group `g` owns rows `g*Kg..`;
//! * forward `out_g [Cout/G, P] = W_g [Cout/G, Kg] x cols_g [Kg, P]` (+ bias);
//! * backward `dW_g += dOut_g x cols_g^T`, `dcols_g = W_g^T x dOut_g`, `dx += col2im(dcols)`.
//!
//! Stride-1 convolutions (no zero insertion, no cropping) go through a
//! zero-bordered copy of each sample instead ([`conv_shifted`](super::conv_shifted)):
//! `cols` by whole-run copies; inference multiplies the shifted views in
//! place (no `cols`; `f32` with AVX-512F, at most a quarter of the columns
//! wasted); the backward computes `dx` as the convolution of `dOut` with the
//! flipped weight the same way (no `dcols`, no col2im). The input gradient
//! of the training batch's input is skipped (`input_grad`), the bias sums
//! without a bias.
//!
//! 3 x 3 stride-1 convolutions with 8 or more channels in and out (`f32`,
//! AVX-512F) take Winograd's F(2x2, 3x3) instead
//! ([`conv_winograd`](super::conv_winograd)) in all three passes: the
//! forward, the input gradient (when its convolution qualifies too) and the
//! weight gradient, for which training keeps a view of the input.

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::conv_shifted::{flipped_weight, input_grad_geom, Padded};
use crate::kernels::conv_winograd::{Winograd, WinogradScratch};
use crate::kernels::gemm_cpu::{matmul, GemmArgs};
use crate::kernels::host_view::{host_view, HostView};
use crate::kernels::input_grad;
use crate::kernels::param_cache::host_param;
use crate::kernels::scratch::Scratch;
use crate::kernels::split_operands;
use crate::kernels::team;
use crate::kernels::{add_run, fold_lanes};
use crate::layers::conv_generic::{check_operands, Dyn4};
use crate::layers::conv_geom::ConvGeom;

/// The convolution on the CPU (see module docs); `Cpu`'s
/// [`Backend::conv_forward`](crate::backend::Backend::conv_forward).
pub(crate) fn conv_forward_cpu<E: Elem, T: Tape<E, Cpu>>(
    x: Tensor<(usize,), E, Cpu, T>,
    w: Tensor<(usize, usize), E, Cpu, T>,
    bias: Option<Tensor<(usize,), E, Cpu, T>>,
    geom: &ConvGeom,
) -> Result<Tensor<Dyn4, E, Cpu, T>, CpuError> {
    check_operands(
        x.shape().0,
        *w.shape(),
        bias.as_ref().map(|b| b.shape().0),
        geom,
    );
    let geom = *geom;
    let (x, w, bias, mut tape) = split_operands(x, w, bias);
    // The training batch's input: its gradient is not wanted (`input_grad`).
    let want_dx = !input_grad::is_marked(&x);

    // The input read in place (`host_view`); W's and the bias's host copies
    // are usually kept ones (`param_cache`).
    let x_data = host_view(&x);
    let w_data = host_param(&w);
    let bias_data = bias.as_ref().map(host_param);
    let taps = Taps::new(&geom);
    let (out, kept) = forward(
        &x_data,
        &w_data,
        bias_data.as_deref(),
        &geom,
        &taps,
        T::OWNS_TAPE,
    );
    drop(x_data);
    let dev = x.device().clone();
    let y = dev.try_tensor_from_vec(out, (geom.batch, geom.c_out, geom.h_out, geom.w_out))?;

    if T::OWNS_TAPE {
        let (x_g, w_g, y_g) = (x.ghost(), w.ghost(), y.ghost());
        let b_g = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            // Borrow dOut by moving its buffer out (and back in at the end):
            // dx, dW and db are other entries of the same map.
            let mut go_buf = Storage::<E>::try_alloc_len(&dev, 0)?;
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut go_buf);
            let gx = match want_dx {
                true => Some(&mut grads.get_or_alloc_mut(&x_g)?[..]),
                false => None,
            };
            let want_db = b_g.is_some();
            let (dw, db) = backward(&go_buf[..], &kept, &w_data, gx, &geom, &taps, want_db);
            add_run(&mut grads.get_or_alloc_mut(&w_g)?[..], &dw);
            if let Some(b_g) = &b_g {
                add_run(&mut grads.get_or_alloc_mut(b_g)?[..], &db);
            }
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut go_buf);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

/// Where each kernel tap reads, precomputed once per call.
struct Taps {
    /// `rows[i * h_out + oy]`: input row or -1 (zero).
    rows: Vec<isize>,
    /// `cols[j * w_out + ox]`: input column or -1 (zero).
    cols: Vec<isize>,
    /// Per kernel column `j`, when its valid output columns are one run
    /// `lo..hi` reading input columns `first, first + stride, ..`: `(lo, hi, first)`.
    /// `None` when the reads are not such a run (zero insertion).
    runs: Option<Vec<(usize, usize, usize)>>,
}

impl Taps {
    fn new(geom: &ConvGeom) -> Self {
        let (kh, kw) = geom.kernel;
        let (ho, wo) = (geom.h_out, geom.w_out);
        let mut rows = Vec::with_capacity(kh * ho);
        for i in 0..kh {
            rows.extend((0..ho).map(|oy| geom.src_row(oy, i).map_or(-1, |v| v as isize)));
        }
        let mut cols = Vec::with_capacity(kw * wo);
        for j in 0..kw {
            cols.extend((0..wo).map(|ox| geom.src_col(ox, j).map_or(-1, |v| v as isize)));
        }
        let run = |tab: &[isize]| -> Option<(usize, usize, usize)> {
            let valid: Vec<usize> = (0..tab.len()).filter(|&o| tab[o] >= 0).collect();
            let (Some(&lo), Some(&last)) = (valid.first(), valid.last()) else {
                return Some((0, 0, 0));
            };
            let first = tab[lo] as usize;
            let contiguous = valid.len() == last - lo + 1
                && valid
                    .iter()
                    .all(|&o| tab[o] as usize == first + (o - lo) * geom.stride.1);
            contiguous.then_some((lo, last + 1, first))
        };
        let runs = (0..kw)
            .map(|j| run(&cols[j * wo..(j + 1) * wo]))
            .collect::<Option<Vec<_>>>();
        Self { rows, cols, runs }
    }
}

/// One sample's im2col matrix `[CIK, P]` from its input `[Cin, H, W]`
/// (every element written).
fn im2col_sample<E: Elem>(x: &[E], cols: &mut [E], geom: &ConvGeom, taps: &Taps) {
    let (kh, kw) = geom.kernel;
    let (ho, wo) = (geom.h_out, geom.w_out);
    let (h, w) = (geom.h_in, geom.w_in);
    let p = ho * wo;
    let sw = geom.stride.1;
    for (r, dst) in cols.chunks_mut(p.max(1)).enumerate() {
        let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let plane = &x[c * h * w..(c + 1) * h * w];
        for oy in 0..ho {
            let d = &mut dst[oy * wo..(oy + 1) * wo];
            let sy = taps.rows[i * ho + oy];
            if sy < 0 {
                d.fill(E::zero());
                continue;
            }
            let line = &plane[sy as usize * w..(sy as usize + 1) * w];
            match &taps.runs {
                Some(runs) => {
                    let (lo, hi, first) = runs[j];
                    d[..lo].fill(E::zero());
                    d[hi..].fill(E::zero());
                    if sw == 1 {
                        d[lo..hi].copy_from_slice(&line[first..first + (hi - lo)]);
                    } else {
                        for (k, v) in d[lo..hi].iter_mut().enumerate() {
                            *v = line[first + k * sw];
                        }
                    }
                }
                None => {
                    for (v, &sx) in d.iter_mut().zip(&taps.cols[j * wo..(j + 1) * wo]) {
                        *v = if sx >= 0 {
                            line[sx as usize]
                        } else {
                            E::zero()
                        };
                    }
                }
            }
        }
    }
}

/// One sample's `dx [Cin, H, W] += col2im(dcols [CIK, P])`.
fn col2im_sample<E: Elem>(dcols: &[E], gx: &mut [E], geom: &ConvGeom, taps: &Taps) {
    let (kh, kw) = geom.kernel;
    let (ho, wo) = (geom.h_out, geom.w_out);
    let (h, w) = (geom.h_in, geom.w_in);
    let p = ho * wo;
    let sw = geom.stride.1;
    for (r, src) in dcols.chunks(p.max(1)).enumerate() {
        let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let plane = &mut gx[c * h * w..(c + 1) * h * w];
        for oy in 0..ho {
            let sy = taps.rows[i * ho + oy];
            if sy < 0 {
                continue;
            }
            let s = &src[oy * wo..(oy + 1) * wo];
            let line = &mut plane[sy as usize * w..(sy as usize + 1) * w];
            match &taps.runs {
                Some(runs) => {
                    let (lo, hi, first) = runs[j];
                    if sw == 1 {
                        add_run(&mut line[first..first + (hi - lo)], &s[lo..hi]);
                    } else {
                        for (k, &v) in s[lo..hi].iter().enumerate() {
                            line[first + k * sw] += v;
                        }
                    }
                }
                None => {
                    for (&v, &sx) in s.iter().zip(&taps.cols[j * wo..(j + 1) * wo]) {
                        if sx >= 0 {
                            line[sx as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// What the forward keeps of every sample for the weight gradient.
enum Kept<E: Elem> {
    /// Nothing (no backward pass will follow).
    Nothing,
    /// The input itself and the plan (for Winograd's weight gradient).
    Input(HostView<E>, Winograd),
    /// The im2col matrices `[B, CIK, P]`.
    Cols(Scratch<E>),
    /// The zero-bordered inputs `[B, padded_len]` (where
    /// [`Padded::keeps_padded_input`]) and their plan.
    PaddedInput(Scratch<E>, Padded),
}

/// Runs of samples per thread the forward splits a batch into (at most).
const FORWARD_RUNS_PER_THREAD: usize = 4;

/// Forward over the batch, samples in parallel: the output `[B, Cout, P]` and,
/// when `keep` (a backward pass will follow), what the weight gradient reads
/// (a view of the input `x_view` itself for Winograd's path).
fn forward<E: Elem>(
    x_view: &HostView<E>,
    w: &[E],
    bias: Option<&[E]>,
    geom: &ConvGeom,
    taps: &Taps,
    keep: bool,
) -> (Vec<E>, Kept<E>) {
    let x = &x_view[..];
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let p = geom.out_pixels();
    let cik = geom.c_in * geom.kernel.0 * geom.kernel.1;
    let chw = geom.c_in * geom.h_in * geom.w_in;
    // `ob [Cout, P] = W x cb` (+ bias) for one sample's im2col matrix `cb`.
    let product = |ob: &mut [E], cb: &[E]| {
        for g in 0..geom.groups {
            matmul(GemmArgs {
                mnk: (cog, p, kg),
                dst: &mut ob[g * cog * p..],
                dst_rs: p,
                accumulate: false,
                lhs: &w[g * cog * kg..],
                lhs_strides: (kg, 1),
                rhs: &cb[g * kg * p..],
                rhs_strides: (p, 1),
                threaded: false,
            });
        }
        if let Some(bias) = bias {
            for (o, &bo) in bias.iter().enumerate() {
                for v in &mut ob[o * p..(o + 1) * p] {
                    *v += bo;
                }
            }
        }
    };
    let padded = Padded::new(geom);
    // 3 x 3 stride-1 convolutions with enough channels: Winograd's F(2x2,
    // 3x3) products (`conv_winograd`), the weight transformed once per call.
    let winograd = Winograd::new::<E>(geom).map(|wg| {
        let u = wg.weight(w, geom);
        (wg, u)
    });
    let mut out = vec![E::zero(); geom.output_len()];
    let out_chunk = (geom.c_out * p).max(1);
    // Runs of samples, a few per thread, which threads claim as they come
    // free (one run per thread left a thread that the OS paused holding up
    // the other); each sample's output is its own, so the split does not
    // change results. One scratch per run.
    let parts =
        (FORWARD_RUNS_PER_THREAD * rayon::current_num_threads()).clamp(1, geom.batch.max(1));
    let per = geom.batch.div_ceil(parts).max(1);
    let sample_x = |b: usize| &x[b * chw..(b + 1) * chw];
    // A zeroed padded image for `Padded::fill` (borders stay zero).
    let zeroed_pad = |pd: &Padded| Scratch::filled(pd.padded_len(geom), E::zero());
    let in_place = |pd: &&Padded| pd.in_place_product::<E>(geom);
    let keep_padded = |pd: &&Padded| pd.keeps_padded_input::<E>(geom);
    if let Some((wg, u)) = winograd {
        // Winograd's products; training keeps the input (the weight
        // gradient takes it through the same transforms).
        team::each_chunk_mut(&mut out, per * out_chunk, |part, obs| {
            let mut ws = WinogradScratch::new(&wg, geom);
            for (i, ob) in obs.chunks_mut(out_chunk).enumerate() {
                wg.forward_sample(sample_x(part * per + i), &u, bias, &mut ws, ob, false, geom);
            }
        });
        let kept = match keep {
            true => Kept::Input(x_view.clone(), wg),
            false => Kept::Nothing,
        };
        (out, kept)
    } else if let Some(pd) = padded.as_ref().filter(keep_padded).filter(|_| keep) {
        // Products over shifted views of each sample's padded image, which
        // is kept (every element written by `fill_bordered`).
        let plen = pd.padded_len(geom);
        let mut pads = Scratch::uninit(geom.batch * plen);
        team::each_chunk_mut2(
            &mut out,
            per * out_chunk,
            &mut pads,
            (per * plen).max(1),
            |part, obs, xps| {
                let mut wide = Scratch::uninit(pd.wide_len(geom));
                for (i, (ob, xpad)) in obs
                    .chunks_mut(out_chunk)
                    .zip(xps.chunks_mut(plen.max(1)))
                    .enumerate()
                {
                    pd.fill_bordered(sample_x(part * per + i), xpad, geom);
                    pd.forward_sample(xpad, w, bias, &mut wide, ob, false, geom);
                }
            },
        );
        let pd = padded.expect("conv: the branch's plan");
        (out, Kept::PaddedInput(pads, pd))
    } else if keep {
        // Every element is written by `im2col_sample` / `Padded::im2col`.
        let mut cols = Scratch::uninit(geom.batch * cik * p);
        team::each_chunk_mut2(
            &mut out,
            per * out_chunk,
            &mut cols,
            per * cik * p,
            |part, obs, cbs| {
                let mut xpad = padded.as_ref().map(zeroed_pad);
                for (i, (ob, cb)) in obs
                    .chunks_mut(out_chunk)
                    .zip(cbs.chunks_mut((cik * p).max(1)))
                    .enumerate()
                {
                    let xb = sample_x(part * per + i);
                    match (&padded, &mut xpad) {
                        (Some(pd), Some(xpad)) => {
                            pd.fill(xb, xpad, geom);
                            pd.im2col(xpad, cb, geom);
                        }
                        _ => im2col_sample(xb, cb, geom, taps),
                    }
                    product(ob, cb);
                }
            },
        );
        (out, Kept::Cols(cols))
    } else if let Some(pd) = padded.as_ref().filter(in_place) {
        // No im2col matrix: products over shifted views of the padded image.
        team::each_chunk_mut(&mut out, per * out_chunk, |part, obs| {
            let mut xpad = zeroed_pad(pd);
            let mut wide = Scratch::uninit(pd.wide_len(geom));
            for (i, ob) in obs.chunks_mut(out_chunk).enumerate() {
                pd.fill(sample_x(part * per + i), &mut xpad, geom);
                pd.forward_sample(&xpad, w, bias, &mut wide, ob, false, geom);
            }
        });
        (out, Kept::Nothing)
    } else {
        team::each_chunk_mut(&mut out, per * out_chunk, |part, obs| {
            let mut xpad = padded.as_ref().map(zeroed_pad);
            let mut cb = Scratch::uninit(cik * p);
            for (i, ob) in obs.chunks_mut(out_chunk).enumerate() {
                let xb = sample_x(part * per + i);
                match (&padded, &mut xpad) {
                    (Some(pd), Some(xpad)) => {
                        pd.fill(xb, xpad, geom);
                        pd.im2col(xpad, &mut cb, geom);
                    }
                    _ => im2col_sample(xb, &mut cb, geom, taps),
                }
                product(ob, &cb);
            }
        });
        (out, Kept::Nothing)
    }
}

/// `dst [cols, rows] = src [rows, cols]^T` (both row-major).
fn transpose_into<E: Elem>(src: &[E], (rows, cols): (usize, usize), dst: &mut [E]) {
    debug_assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    // Eight source rows at a time (in cache) give each destination row a
    // run of eight values.
    for r0 in (0..rows).step_by(8) {
        let lines: Vec<&[E]> = src[r0 * cols..]
            .chunks_exact(cols.max(1))
            .take((rows - r0).min(8))
            .collect();
        for c in 0..cols {
            let run = &mut dst[c * rows + r0..c * rows + r0 + lines.len()];
            for (d, line) in run.iter_mut().zip(&lines) {
                *d = line[c];
            }
        }
    }
}

/// How the backward computes a stride-1 convolution's input gradient: as
/// the convolution ([`input_grad_geom`]) of `dOut` with the flipped weight,
/// by Winograd's products (with the transformed flipped weight) or over
/// shifted views of padded `dOut`.
enum DxConv<E: Elem> {
    Winograd(Winograd, Vec<f32>, ConvGeom),
    Shifted(Padded, Vec<E>, ConvGeom),
}

/// Where the backward takes a convolution's weight gradient from: Winograd's
/// transforms of the kept input, the kept zero-bordered inputs (shifted
/// views), or the kept im2col matrices.
enum WeightGradFrom<'a, E: Elem> {
    Winograd(&'a Winograd, &'a [E]),
    Padded(&'a Padded, &'a [E], usize),
    Cols(&'a [E]),
}

/// The per-run buffers of a [`DxConv`].
enum DxScratch<E: Elem> {
    Winograd(WinogradScratch),
    /// Zero-bordered `dOut` and the wide `dx`.
    Shifted(Scratch<E>, Scratch<E>),
}

/// Runs of samples the backward splits a batch into (at most): enough for
/// 16 threads; independent of the thread count for reproducible sums.
const BACKWARD_RUNS: usize = 16;

/// Backward over the batch, samples in parallel: adds the input gradient into
/// `gx` when given (not for the training batch's input: `input_grad`) and
/// returns the weight and bias gradients `([Cout, Kg], [Cout])` (the bias's
/// zero unless `want_db`), the weight's from what the forward `kept`.
#[allow(clippy::too_many_arguments)]
fn backward<E: Elem>(
    go: &[E],
    kept: &Kept<E>,
    w: &[E],
    gx: Option<&mut [E]>,
    geom: &ConvGeom,
    taps: &Taps,
    want_db: bool,
) -> (Vec<E>, Vec<E>) {
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let p = geom.out_pixels();
    let cik = geom.c_in * geom.kernel.0 * geom.kernel.1;
    let chw = geom.c_in * geom.h_in * geom.w_in;
    let co = geom.c_out;
    debug_assert_eq!(go.len(), geom.output_len(), "conv: output gradient length");
    debug_assert!(
        gx.as_ref().is_none_or(|gx| gx.len() == geom.input_len()),
        "conv: input gradient length"
    );
    let want_dx = gx.is_some();
    // Where the weight gradient comes from (what the forward kept).
    let from = match kept {
        Kept::Input(x, wg) => WeightGradFrom::Winograd(wg, &x[..]),
        Kept::PaddedInput(pads, pd) => {
            let plen = pd.padded_len(geom);
            debug_assert_eq!(pads.len(), geom.batch * plen, "conv: kept inputs length");
            WeightGradFrom::Padded(pd, &pads[..], plen)
        }
        Kept::Cols(cols) => WeightGradFrom::Cols(&cols[..]),
        Kept::Nothing => WeightGradFrom::Cols(&[]),
    };
    debug_assert!(
        !matches!(from, WeightGradFrom::Cols(cols) if cols.len() != geom.batch * cik * p),
        "conv: saved im2col length"
    );
    // Contiguous runs of samples, each with its own dW, db and dcols scratch
    // (one accumulator per run, not per thread), summed in run
    // order. The number of runs is fixed, not the thread count, so the
    // float sums (and the trained weights) are bit-identical for any number
    // of threads.
    let parts = BACKWARD_RUNS.clamp(1, geom.batch.max(1));
    let per = geom.batch.div_ceil(parts).max(1);
    // Stride 1: dx as the convolution of dOut with the flipped weight, over
    // shifted views of padded dOut (no dcols matrix, no col2im scatter).
    // By Winograd's products where they apply to that convolution.
    let shifted = input_grad_geom(geom).filter(|_| want_dx).and_then(|bg| {
        if let Some(wg) = Winograd::new::<E>(&bg) {
            let u = wg.weight(&flipped_weight(w, geom), &bg);
            return Some(DxConv::Winograd(wg, u, bg));
        }
        let pd = Padded::new(&bg).filter(|pd| pd.in_place_product::<E>(&bg))?;
        Some(DxConv::Shifted(pd, flipped_weight(w, geom), bg))
    });
    // One run of samples: its input gradients `gxs` (when wanted), its dW and db.
    let run = |part: usize, mut gxs: Option<&mut [E]>| {
        let gos = team::chunk(go, per * co * p, part);
        // The run's weight gradient: `[Cout, kg]` from padded inputs; from
        // im2col matrices per group `dW_g^T [kg, cog]` (summed as `cols_g
        // [kg, P] x dOut_g^T [P, cog]`: B's rows contiguous, no packing of
        // `cols^T`; `go_t [P, Cout]` holds one sample's `dOut^T`); from
        // Winograd's transforms `dU [16][Cout][Cin]`. The last two are
        // taken back to `dW` once the runs are summed (element by element,
        // the same sums).
        let dw_len = match from {
            WeightGradFrom::Winograd(..) => 16 * geom.c_out * geom.c_in,
            _ => co * kg,
        };
        let mut dw = vec![E::zero(); dw_len];
        let mut go_t = match from {
            WeightGradFrom::Cols(_) => vec![E::zero(); p * co],
            _ => Vec::new(),
        };
        let mut wino = match &from {
            WeightGradFrom::Winograd(wg, _) => Some(WinogradScratch::new(wg, geom)),
            _ => None,
        };
        // Wide dOut for `Padded::weight_grad_sample` (its dropped columns
        // stay zero).
        let mut dwide = match &from {
            WeightGradFrom::Padded(pd, ..) => Scratch::filled(co * pd.wide_pixels(geom), E::zero()),
            _ => Scratch::uninit(0),
        };
        let mut db = vec![E::zero(); co];
        // Every element is written by the `dcols` matmuls.
        let dcols_len = if want_dx && shifted.is_none() {
            cik * p
        } else {
            0
        };
        let mut dcols = Scratch::uninit(dcols_len);
        // Zero-bordered padded dOut and wide dx (`Padded::forward_sample`).
        let mut pads = shifted.as_ref().map(|dxc| match dxc {
            DxConv::Shifted(pd, _, bg) => {
                let dpad = Scratch::filled(pd.padded_len(bg), E::zero());
                let wide = Scratch::uninit(pd.wide_len(bg));
                DxScratch::Shifted(dpad, wide)
            }
            DxConv::Winograd(wg, _, bg) => DxScratch::Winograd(WinogradScratch::new(wg, bg)),
        });
        for (i, gob) in gos.chunks((co * p).max(1)).enumerate() {
            let b = part * per + i;
            match (&from, &mut wino) {
                (WeightGradFrom::Winograd(wg, xs), Some(ws)) => {
                    let xb = &xs[b * chw..(b + 1) * chw];
                    wg.weight_grad_sample(xb, gob, ws, &mut dw, geom);
                }
                (WeightGradFrom::Padded(pd, pads, plen), _) => {
                    let xpad = &pads[b * plen..(b + 1) * plen];
                    pd.weight_grad_sample(xpad, gob, &mut dwide, &mut dw, geom);
                }
                (WeightGradFrom::Cols(cols), _) => {
                    transpose_into(gob, (co, p), &mut go_t);
                    let cb = &cols[b * cik * p..(b + 1) * cik * p];
                    for g in 0..geom.groups {
                        // dW_g^T += cols_g [kg, P] x dOut_g^T [P, cog]
                        matmul(GemmArgs {
                            mnk: (kg, cog, p),
                            dst: &mut dw[g * kg * cog..],
                            dst_rs: cog,
                            accumulate: true,
                            lhs: &cb[g * kg * p..],
                            lhs_strides: (p, 1),
                            rhs: &go_t[g * cog..],
                            rhs_strides: (co, 1),
                            threaded: false,
                        });
                    }
                }
                (WeightGradFrom::Winograd(..), None) => unreachable!("made above"),
            }
            if want_dx && shifted.is_none() {
                for g in 0..geom.groups {
                    // dcols_g = W_g^T [kg, cog] x dOut_g [cog, P]
                    matmul(GemmArgs {
                        mnk: (kg, p, cog),
                        dst: &mut dcols[g * kg * p..],
                        dst_rs: p,
                        accumulate: false,
                        lhs: &w[g * cog * kg..],
                        lhs_strides: (1, kg),
                        rhs: &gob[g * cog * p..],
                        rhs_strides: (p, 1),
                        threaded: false,
                    });
                }
            }
            if want_db {
                for (o, d) in db.iter_mut().enumerate() {
                    *d += fold_lanes(&gob[o * p..(o + 1) * p], E::zero(), |a, b| a + b);
                }
            }
            let Some(gxs) = gxs.as_deref_mut() else {
                continue;
            };
            let gxb = &mut gxs[i * chw..(i + 1) * chw];
            match (&shifted, &mut pads) {
                (Some(DxConv::Shifted(pd, wf, bg)), Some(DxScratch::Shifted(dpad, wide))) => {
                    pd.fill(gob, dpad, bg);
                    pd.forward_sample(dpad, wf, None, wide, gxb, true, bg);
                }
                (Some(DxConv::Winograd(wg, u, bg)), Some(DxScratch::Winograd(ws))) => {
                    wg.forward_sample(gob, u, None, ws, gxb, true, bg);
                }
                _ => col2im_sample(&dcols, gxb, geom, taps),
            }
        }
        (dw, db)
    };
    let runs = geom.batch.div_ceil(per).max(1);
    let mut slots: Vec<Option<(Vec<E>, Vec<E>)>> = vec![None; runs];
    match gx {
        Some(gx) => {
            team::each_chunk_mut2(gx, (per * chw).max(1), &mut slots, 1, |part, gxs, slot| {
                slot[0] = Some(run(part, Some(gxs)));
            })
        }
        None => team::each_chunk_mut(&mut slots, 1, |part, slot| {
            slot[0] = Some(run(part, None));
        }),
    }
    let mut parts = slots.into_iter().flatten();
    let (mut dw, mut db) = parts
        .next()
        .unwrap_or_else(|| (vec![E::zero(); co * kg], vec![E::zero(); co]));
    for (dw2, db2) in parts {
        add_run(&mut dw, &dw2);
        add_run(&mut db, &db2);
    }
    match &from {
        WeightGradFrom::Winograd(wg, _) => {
            let mut out = vec![E::zero(); co * kg];
            wg.add_weight_grad(&dw, &mut out, geom);
            return (out, db);
        }
        WeightGradFrom::Padded(..) => return (dw, db),
        WeightGradFrom::Cols(_) => {}
    }
    // `dW_g^T [kg, cog]` per group into `dW [Cout, kg]`.
    let mut out = vec![E::zero(); co * kg];
    for g in 0..geom.groups {
        let src = &dw[g * kg * cog..(g + 1) * kg * cog];
        transpose_into(src, (kg, cog), &mut out[g * cog * kg..(g + 1) * cog * kg]);
    }
    (out, db)
}
