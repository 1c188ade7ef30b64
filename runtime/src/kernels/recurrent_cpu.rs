//! CPU fast path of a whole recurrent layer with a built-in cell
//! ([`CellMath`]): `Cpu`'s
//! [`Backend::recurrent_run`](crate::backend::Backend::recurrent_run). Cells
//! without a `MATH` run the device-generic path.
//!
//! Shapes: `N` batch rows, `T` steps, `G*H` stacked gates; every buffer is
//! batch-first, row `r = b*T + t`.
//! * Forward: `z [N*T, G*H] = x [N*T, I] W_ih^T` as one gemm for all
//!   steps; where rows of `x` repeat (an embedding's output over token
//!   ids), over its distinct rows only
//!   ([`distinct_rows`](super::distinct_rows)), each row's product then
//!   added where the bias is. Then per step, in processing order: one gemm
//!   with the recurrent weight (`z_t += h_{t-1} W_hh^T` in place, or `z_t =`
//!   over distinct rows; GRU: `hx = h_{t-1} W_hh^T + b_hh` in a scratch)
//!   and one fused pass that adds the bias (`b_ih + b_hh`
//!   for LSTM and tanh; `b_ih` for the GRU, whose `b_hh` sits inside the
//!   reset product), applies the gate nonlinearities, writes the activated gates back
//!   over `z_t`, the cell state `c_t` (LSTM) or `hx_n` (GRU), `h_t` into the
//!   output and into `hp [N*T, H]` (each step's previous hidden state).
//! * Backward (BPTT), steps in reverse: one fused pass turns `dh_t` (and
//!   `dc_t`) into the pre-activation gradient `dz_t`, written over `z_t`
//!   (GRU: and `dzh_t`, the recurrent side's), then one gemm
//!   `dh_{t-1} (+)= dzh_t W_hh`. The parameter and input gradients are then
//!   gemms over all steps at once: `dW_hh += dzh^T hp`, `dW_ih += dz^T x`
//!   (over the distinct rows of `x`, with the rows of `dz` summed per one),
//!   `dx += dz W_ih`, and the column sums of `dz`/`dzh` for the biases.
//!
//! Batch rows are independent in the recurrence, so both loops run in
//! parallel over runs of rows (their number fixed by the batch size alone,
//! not by the thread count, so results do not depend on it); the all-step
//! gemms use `gemm`'s own threading.

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::act_cpu::KernelFloat;
use crate::kernels::distinct_rows::{distinct_rows, DistinctRows};
use crate::kernels::gemm_cpu::{matmul, GemmArgs};
use crate::kernels::host_view::{host_view, HostView};
use crate::kernels::param_cache::{host_param, host_param_t, HostParam};
use crate::kernels::scratch::{host_copy, Scratch};
use crate::kernels::{add_run, team};
use crate::layers::recurrent::{CellKind, CellMath, CellParams, InitialState, RecurrentOutput};

/// Most batch rows one run of the recurrence takes (a run is one task).
const MAX_ROWS_PER_RUN: usize = 16;

/// The cell formulas [`run`] is to use for cell `K` with hidden size `H` on
/// `[batch, steps, ..]`: `K::MATH` when there is no empty dimension, else
/// `None` (the caller then runs the device-generic path).
pub(crate) fn handles<K: CellKind, const H: usize>(batch: usize, steps: usize) -> Option<CellMath> {
    let gates = |m: CellMath| match m {
        CellMath::Tanh => 1,
        CellMath::Lstm => 4,
        CellMath::GruResetAfter => 3,
    };
    // A cell whose gate count does not fit its formulas runs generic code.
    K::MATH.filter(|&m| gates(m) == K::GATES && batch > 0 && steps > 0 && H > 0)
}

/// The recurrence on the CPU (see module docs), with the formulas `math`
/// that [`handles`] returned for this layer.
pub(crate) fn run<B, T, const I: usize, const H: usize, K, E, Tp>(
    math: CellMath,
    p: CellParams<'_, I, H, K, E, Cpu>,
    x: Tensor<(B, T, Const<I>), E, Cpu, Tp>,
    state: Option<InitialState<B, H, E, Cpu, Tp>>,
    reverse: bool,
) -> Result<RecurrentOutput<B, T, H, E, Cpu, Tp>, CpuError>
where
    B: Dim,
    T: Dim,
    K: CellKind,
    E: KernelFloat,
    Tp: Tape<E, Cpu>,
{
    let (b, t, _) = *x.shape();
    let (n, steps) = (b.size(), t.size());
    let gh = K::GATES * H;
    // Contiguous operands (a no-op for contiguous tensors; a copy, with its
    // own backward, for strided ones).
    let (x, mut tape) = x.try_reshape_like(&(b, t, Const::<I>))?.split_tape();
    let (h0, c0) = match state {
        Some(s) => {
            let (h0, th) = s.h0.try_reshape_like(&(b, Const::<H>))?.split_tape();
            tape = tape.merge(th);
            let c0 = match s.c0 {
                Some(c0) => {
                    // Its tape joins even when the cell has no cell state:
                    // it may carry the ops that produced `h0` or `x`.
                    let (c0, tc) = c0.try_reshape_like(&(b, Const::<H>))?.split_tape();
                    tape = tape.merge(tc);
                    (math == CellMath::Lstm).then_some(c0)
                }
                None => None,
            };
            (Some(h0), c0)
        }
        None => (None, None),
    };

    let host = |v: Option<&Tensor<(B, Const<H>), E, Cpu>>| match v {
        Some(v) => host_copy(v),
        None => {
            let mut z = Scratch::uninit(n * H);
            z.fill(E::zero());
            z
        }
    };
    // Usually kept copies of the weights (`param_cache`).
    let w = Weights {
        w_ih: host_param(p.weight_ih),
        w_hh: host_param(p.weight_hh),
        w_hh_t: host_param_t(p.weight_hh, K::GATES * H),
        b_hh: host_param(p.bias_hh),
    };
    let x_h = host_view(&x);
    let h0_h = host(h0.as_ref());
    let c0_h = host(c0.as_ref());

    // z = x W_ih^T, every step at once; the gate passes add the bias.
    let bias: Vec<E> = {
        let b_ih = host_param(p.bias_ih);
        let fold_hh = math != CellMath::GruResetAfter;
        (0..gh)
            .map(|g| {
                if fold_hh {
                    b_ih[g] + w.b_hh[g]
                } else {
                    b_ih[g]
                }
            })
            .collect()
    };
    let mut z = Scratch::uninit(n * steps * gh);
    let distinct = distinct_rows(&x_h, I).map(|rows| DistinctInput {
        values: gather_rows(&x_h, I, &rows.firsts),
        rows,
    });
    let x_products = input_projection(&x_h, &w.w_ih, (n * steps, gh, I), distinct.as_ref(), &mut z);

    let geo = Geo {
        steps,
        h: H,
        gh,
        reverse,
        math,
    };
    let mut y = vec![E::zero(); n * steps * H];
    let mut hp = Scratch::uninit(n * steps * H);
    let side = if math == CellMath::Tanh { 0 } else { 1 };
    let mut side_buf = Scratch::uninit(side * n * steps * H);
    let runs = row_runs(n);
    {
        let rows = runs.iter().map(|&(lo, hi)| hi - lo);
        let zs = split_rows(&mut z, steps * gh, rows.clone());
        let ys = split_rows(&mut y, steps * H, rows.clone());
        let hps = split_rows(&mut hp, steps * H, rows.clone());
        let sides = split_rows(&mut side_buf, side * steps * H, rows);
        let items = zs
            .into_iter()
            .zip(ys)
            .zip(hps)
            .zip(sides)
            .zip(runs.clone())
            .collect::<Vec<_>>();
        team::each_owned(items, |((((z, y), hp), side), (lo, hi))| {
            let rows = hi - lo;
            let xp = match (&x_products, &distinct) {
                (Some(products), Some(d)) => Some(XProj {
                    products,
                    of_row: &d.rows.of_row[lo * steps..hi * steps],
                }),
                _ => None,
            };
            forward_run_best(
                &geo,
                &w,
                (&bias, xp),
                RunBufs { rows, z, hp, side },
                y,
                &h0_h[lo * H..hi * H],
                &c0_h[lo * H..hi * H],
            );
        });
    }

    // The final state: the last step processed.
    let last = if reverse { 0 } else { steps - 1 };
    let mut h_n = Vec::with_capacity(n * H);
    let mut c_n = Vec::with_capacity(n * H);
    for r in 0..n {
        let at = (r * steps + last) * H;
        h_n.extend_from_slice(&y[at..at + H]);
        if math == CellMath::Lstm {
            c_n.extend_from_slice(&side_buf[at..at + H]);
        }
    }
    let dev = x.device().clone();
    let output = dev.try_tensor_from_vec(y, (b, t, Const::<H>))?;
    let h_n = dev.try_tensor_from_vec(h_n, (b, Const::<H>))?;
    let c_n = match math {
        CellMath::Lstm => Some(dev.try_tensor_from_vec(c_n, (b, Const::<H>))?),
        _ => None,
    };

    if Tp::OWNS_TAPE {
        let (x_g, w_ih_g, w_hh_g) = (x.ghost(), p.weight_ih.ghost(), p.weight_hh.ghost());
        let (b_ih_g, b_hh_g) = (p.bias_ih.ghost(), p.bias_hh.ghost());
        let (h0_g, c0_g) = (h0.map(|t| t.ghost()), c0.map(|t| t.ghost()));
        let (y_g, h_n_g) = (output.ghost(), h_n.ghost());
        let c_n_g = c_n.as_ref().map(|t| t.ghost());
        let saved = Saved {
            w,
            distinct,
            x: x_h,
            c0: c0_h,
            z,
            hp,
            side: side_buf,
        };
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            // Gradients of the final state (zeros unless a later op used it).
            let mut dh = grads.get_or_alloc_mut(&h_n_g)?[..].to_vec();
            let mut dc = match &c_n_g {
                Some(g) => grads.get_or_alloc_mut(g)?[..].to_vec(),
                None => vec![E::zero(); n * H],
            };
            // Borrow dY by moving its buffer out (and back in).
            let mut go = Storage::<E>::try_alloc_len(&dev, 0)?;
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut go);
            let bp = bptt(geo, &runs, saved, &go[..], &mut dh, &mut dc);
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut go);
            bp.add_w_hh(&mut grads.get_or_alloc_mut(&w_hh_g)?[..]);
            bp.add_w_ih(&mut grads.get_or_alloc_mut(&w_ih_g)?[..]);
            bp.add_x(&mut grads.get_or_alloc_mut(&x_g)?[..]);
            add_column_sums(&mut grads.get_or_alloc_mut(&b_ih_g)?[..], &bp.saved.z);
            add_column_sums(&mut grads.get_or_alloc_mut(&b_hh_g)?[..], bp.dzh());
            if let Some(g) = &h0_g {
                add_run(&mut grads.get_or_alloc_mut(g)?[..], &dh);
            }
            if let Some(g) = &c0_g {
                add_run(&mut grads.get_or_alloc_mut(g)?[..], &dc);
            }
            Ok(())
        });
    }
    Ok(RecurrentOutput {
        output: output.put_tape(tape),
        h_n,
        c_n,
    })
}

/// Sizes and the cell, shared by the forward and backward runs.
#[derive(Debug, Clone, Copy)]
struct Geo {
    steps: usize,
    h: usize,
    gh: usize,
    reverse: bool,
    math: CellMath,
}

impl Geo {
    /// The step index processed at position `s`.
    fn step(&self, s: usize) -> usize {
        if self.reverse {
            self.steps - 1 - s
        } else {
            s
        }
    }
}

/// Host copies of the parameters the recurrence reads.
struct Weights<E: Elem> {
    /// `[G*H, I]`.
    w_ih: HostParam<E>,
    /// `[G*H, H]`.
    w_hh: HostParam<E>,
    /// `W_hh^T`, `[H, G*H]` row-major: the right operand of every step's
    /// `h W_hh^T` with contiguous rows, which the gemm streams as it is
    /// (transposed once per buffer instead of repacked at every step).
    w_hh_t: HostParam<E>,
    /// `[G*H]`.
    b_hh: HostParam<E>,
}

#[cfg(test)]
impl<E: Elem> Weights<E> {
    fn new(w_ih: HostParam<E>, w_hh: HostParam<E>, b_hh: HostParam<E>, h: usize) -> Self {
        let gh = w_hh.len().checked_div(h).unwrap_or(0);
        let w_hh_t = crate::kernels::param_cache::transposed(&w_hh, gh);
        let w_hh_t = HostParam::Shared(std::sync::Arc::new(w_hh_t));
        Weights {
            w_ih,
            w_hh,
            w_hh_t,
            b_hh,
        }
    }
}

/// One run's rows of the per-step buffers (`rows` batch rows, each
/// `T * width` long).
struct RunBufs<'a, E> {
    rows: usize,
    /// `[rows, T, G*H]`: pre-activations, then activated gates, then (in the
    /// backward) the pre-activation gradients.
    z: &'a mut [E],
    /// `[rows, T, H]`: the hidden state each step started from.
    hp: &'a mut [E],
    /// `[rows, T, H]`: the cell state after each step (LSTM), `hx_n` (GRU),
    /// empty (tanh).
    side: &'a mut [E],
}

/// What the forward keeps for the backward.
struct Saved<E: Elem> {
    w: Weights<E>,
    /// The distinct rows of `x`, where they repeat enough to pay off.
    distinct: Option<DistinctInput<E>>,
    x: HostView<E>,
    c0: Scratch<E>,
    z: Scratch<E>,
    hp: Scratch<E>,
    side: Scratch<E>,
}

/// Splits `n` batch rows into runs `(lo, hi)` of at most `MAX_ROWS_PER_RUN`
/// rows, as even as possible.
fn row_runs(n: usize) -> Vec<(usize, usize)> {
    let parts = n.div_ceil(MAX_ROWS_PER_RUN).max(1);
    let per = n.div_ceil(parts).max(1);
    (0..n)
        .step_by(per)
        .map(|lo| (lo, (lo + per).min(n)))
        .collect()
}

/// `buf` cut into consecutive pieces of `rows_i * row_len` elements.
fn split_rows<E>(
    mut buf: &mut [E],
    row_len: usize,
    rows: impl Iterator<Item = usize>,
) -> Vec<&mut [E]> {
    let mut out = Vec::new();
    for r in rows {
        let (a, rest) = std::mem::take(&mut buf).split_at_mut(r * row_len);
        out.push(a);
        buf = rest;
    }
    out
}

fn sigmoid<E: KernelFloat>(v: E) -> E {
    v.sigmoid_k()
}

/// The widest vector extension the gate loops may be compiled for on this
/// CPU (checked once per call; the check itself is a cached load).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum GateIsa {
    /// The baseline target (SSE2 on x86-64; anything elsewhere).
    Baseline,
    /// AVX2 and FMA: 8 f32 lanes.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F on top: 16 f32 lanes, and mask registers for the selects.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

fn gate_isa() -> GateIsa {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
            return GateIsa::Avx512;
        }
        if avx2 {
            return GateIsa::Avx2;
        }
    }
    GateIsa::Baseline
}

/// Defines `$best`, which runs `$body` (an `#[inline(always)]` fn) compiled
/// for the widest [`GateIsa`] the CPU has. Rust does not contract `a * b + c`
/// into an FMA by itself, so every variant gives the same bits.
macro_rules! gate_dispatch {
    ($best:ident, $body:ident, $avx2:ident, $avx512:ident, ($($arg:ident: $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        fn $best<E: KernelFloat>($($arg: $ty),*) {
            match gate_isa() {
                // SAFETY: `gate_isa` returned this variant only after
                // detecting the features it is compiled for.
                #[cfg(target_arch = "x86_64")]
                GateIsa::Avx512 => unsafe { $avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                GateIsa::Avx2 => unsafe { $avx2($($arg),*) },
                GateIsa::Baseline => $body($($arg),*),
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        fn $avx2<E: KernelFloat>($($arg: $ty),*) {
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        fn $avx512<E: KernelFloat>($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

gate_dispatch!(
    forward_run_best,
    forward_run,
    forward_run_avx2,
    forward_run_avx512,
    (
        geo: &Geo,
        w: &Weights<E>,
        bias: (&[E], Option<XProj<'_, E>>),
        bufs: RunBufs<'_, E>,
        y: &mut [E],
        h0: &[E],
        c0: &[E]
    )
);

gate_dispatch!(
    backward_run_best,
    backward_run,
    backward_run_avx2,
    backward_run_avx512,
    (
        geo: &Geo,
        w_hh: &[E],
        bufs: RunBufs<'_, E>,
        dzh: &mut [E],
        go: &[E],
        c0: &[E],
        dh: &mut [E],
        dc: &mut [E]
    )
);

/// The forward recurrence over one run of rows; `bias [G*H]` is the input
/// side's (added to `z` row by row), and with `xp` so is each row's input
/// product (else `z` holds it already); `h0`, `c0` are its rows of the
/// initial state (`[rows, H]`), `y` its rows of the output.
#[inline(always)]
fn forward_run<E: KernelFloat>(
    geo: &Geo,
    w: &Weights<E>,
    (bias, xp): (&[E], Option<XProj<'_, E>>),
    bufs: RunBufs<'_, E>,
    y: &mut [E],
    h0: &[E],
    c0: &[E],
) {
    let Geo {
        steps, h, gh, math, ..
    } = *geo;
    let RunBufs { rows, z, hp, side } = bufs;
    let mut hx = match math {
        CellMath::GruResetAfter => vec![E::zero(); rows * gh],
        _ => Vec::new(),
    };
    // The previous cell state of one row (LSTM).
    let mut cp = vec![E::zero(); h];
    let first = geo.step(0);
    for r in 0..rows {
        let at = (r * steps + first) * h;
        hp[at..at + h].copy_from_slice(&h0[r * h..(r + 1) * h]);
    }
    for s in 0..steps {
        let ti = geo.step(s);
        let next = (s + 1 < steps).then(|| geo.step(s + 1));
        let prev = (s > 0).then(|| geo.step(s - 1));
        // The recurrent term h_{t-1} W_hh^T: into its own rows (plus b_hh)
        // for the GRU's reset-after form, else added to the step's z.
        let (dst, dst_rs) = if math == CellMath::GruResetAfter {
            for row in hx.chunks_mut(gh) {
                row.copy_from_slice(&w.b_hh);
            }
            (&mut hx[..], gh)
        } else {
            (&mut z[ti * gh..], steps * gh)
        };
        // Onto the input products in `z`, or (`xp`) into `z`, which then
        // gets them with the bias.
        let onto_z = math != CellMath::GruResetAfter;
        matmul(GemmArgs {
            mnk: (rows, gh, h),
            dst,
            dst_rs,
            accumulate: !onto_z || xp.is_none(),
            lhs: &hp[ti * h..],
            lhs_strides: (steps * h, 1),
            rhs: &w.w_hh_t,
            rhs_strides: (gh, 1),
            threaded: false,
        });
        for r in 0..rows {
            let zr = &mut z[(r * steps + ti) * gh..(r * steps + ti + 1) * gh];
            let at = (r * steps + ti) * h;
            let yr = &mut y[at..at + h];
            // The input side's bias (`z` holds the products only), and its
            // product where `z` does not hold it.
            match xp {
                Some(xp) => {
                    let k = xp.of_row[r * steps + ti] as usize;
                    let xr = &xp.products[k * gh..(k + 1) * gh];
                    // (The GRU's `z` holds nothing yet: its recurrent
                    // products went to `hx`.)
                    for ((v, &b), &x) in zr.iter_mut().zip(bias).zip(xr) {
                        *v = if onto_z { *v + (x + b) } else { x + b };
                    }
                }
                None => {
                    for (v, &b) in zr.iter_mut().zip(bias) {
                        *v += b;
                    }
                }
            }
            match math {
                CellMath::Tanh => {
                    for (v, o) in zr.iter_mut().zip(yr.iter_mut()) {
                        *v = v.tanh_k();
                        *o = *v;
                    }
                }
                CellMath::Lstm => {
                    match prev {
                        Some(pt) => cp.copy_from_slice(&side[(r * steps + pt) * h..][..h]),
                        None => cp.copy_from_slice(&c0[r * h..(r + 1) * h]),
                    }
                    let cs = &mut side[at..at + h];
                    if !E::lstm_forward_row(zr, &cp, cs, yr) {
                        lstm_forward_row(zr, &cp, cs, yr);
                    }
                }
                CellMath::GruResetAfter => {
                    let hxr = &hx[r * gh..(r + 1) * gh];
                    let hpr = &hp[at..at + h];
                    for j in 0..h {
                        let rg = sigmoid(zr[j] + hxr[j]);
                        let u = sigmoid(zr[h + j] + hxr[h + j]);
                        let nv = (zr[2 * h + j] + rg * hxr[2 * h + j]).tanh_k();
                        yr[j] = nv + u * (hpr[j] - nv);
                        side[at + j] = hxr[2 * h + j];
                        zr[j] = rg;
                        zr[h + j] = u;
                        zr[2 * h + j] = nv;
                    }
                }
            }
            if let Some(nt) = next {
                let to = (r * steps + nt) * h;
                hp[to..to + h].copy_from_slice(&y[at..at + h]);
            }
        }
    }
}

/// The LSTM forward of one row at one step with the scalar formulas:
/// `z [4h]` pre-activations `i, f, g, o` in, activated gates out;
/// `c = f c_prev + i g`, `y = o tanh(c)` (`h = y.len()`).
#[inline(always)]
fn lstm_forward_row<E: KernelFloat>(z: &mut [E], c_prev: &[E], c: &mut [E], y: &mut [E]) {
    let h = y.len();
    // Activations in place, one gate block at a time (loops that
    // vectorize), then the state update.
    let (zifg, zo) = z.split_at_mut(3 * h);
    let (zif, zg) = zifg.split_at_mut(2 * h);
    zif.iter_mut().for_each(|v| *v = sigmoid(*v));
    zg.iter_mut().for_each(|v| *v = v.tanh_k());
    zo.iter_mut().for_each(|v| *v = sigmoid(*v));
    let (zi, zf) = zif.split_at(h);
    for (j, (c, o)) in c.iter_mut().zip(y.iter_mut()).enumerate() {
        *c = zf[j] * c_prev[j] + zi[j] * zg[j];
        *o = zo[j] * c.tanh_k();
    }
}

/// The LSTM backward of one row at one step with the scalar formulas: `z
/// [4h]` activated gates in, their pre-activation gradients out; `c` and
/// `c_prev` the cell state after and before the step, `go` + `dh` the
/// gradient of `h`, `dc` that of `c` (replaced by that of `c_prev`).
#[inline(always)]
fn lstm_backward_row<E: KernelFloat>(
    z: &mut [E],
    c: &[E],
    c_prev: &[E],
    go: &[E],
    dh: &[E],
    dc: &mut [E],
) {
    let h = dh.len();
    for j in 0..h {
        let d = dh[j] + go[j];
        let (i, f, g, o) = (z[j], z[h + j], z[2 * h + j], z[3 * h + j]);
        let tc = c[j].tanh_k();
        let dcv = dc[j] + d * o * (E::one() - tc * tc);
        let di = dcv * g;
        let df = dcv * c_prev[j];
        let dg = dcv * i;
        let dov = d * tc;
        dc[j] = dcv * f;
        z[j] = di * i * (E::one() - i);
        z[h + j] = df * f * (E::one() - f);
        z[2 * h + j] = dg * (E::one() - g * g);
        z[3 * h + j] = dov * o * (E::one() - o);
    }
}

/// The backward recurrence over one run of rows: turns `z` into `dz` (and
/// fills `dzh` for the GRU) from the output gradient `go` (`[rows, T, H]`)
/// and the final-state gradients `dh`, `dc` (`[rows, H]`, updated in place
/// to the initial state's gradients).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_run<E: KernelFloat>(
    geo: &Geo,
    w_hh: &[E],
    bufs: RunBufs<'_, E>,
    dzh: &mut [E],
    go: &[E],
    c0: &[E],
    dh: &mut [E],
    dc: &mut [E],
) {
    let Geo {
        steps, h, gh, math, ..
    } = *geo;
    let RunBufs { rows, z, hp, side } = bufs;
    for s in (0..steps).rev() {
        let ti = geo.step(s);
        let prev = (s > 0).then(|| geo.step(s - 1));
        for r in 0..rows {
            let zr = &mut z[(r * steps + ti) * gh..(r * steps + ti + 1) * gh];
            let at = (r * steps + ti) * h;
            let gor = &go[at..at + h];
            let dhr = &mut dh[r * h..(r + 1) * h];
            match math {
                CellMath::Tanh => {
                    for j in 0..h {
                        let d = dhr[j] + gor[j];
                        let hv = zr[j];
                        zr[j] = d * (E::one() - hv * hv);
                    }
                }
                CellMath::Lstm => {
                    let dcr = &mut dc[r * h..(r + 1) * h];
                    let c_prev = match prev {
                        Some(pt) => &side[(r * steps + pt) * h..][..h],
                        None => &c0[r * h..(r + 1) * h],
                    };
                    let c = &side[at..at + h];
                    if !E::lstm_backward_row(zr, c, c_prev, gor, dhr, dcr) {
                        lstm_backward_row(zr, c, c_prev, gor, dhr, dcr);
                    }
                }
                CellMath::GruResetAfter => {
                    let dzr = &mut dzh[(r * steps + ti) * gh..(r * steps + ti + 1) * gh];
                    let hpr = &hp[at..at + h];
                    for j in 0..h {
                        let d = dhr[j] + gor[j];
                        let (rg, u, nv) = (zr[j], zr[h + j], zr[2 * h + j]);
                        let hxn = side[at + j];
                        let dn = d * (E::one() - u) * (E::one() - nv * nv);
                        let du = d * (hpr[j] - nv) * u * (E::one() - u);
                        let dr = dn * hxn * rg * (E::one() - rg);
                        // The direct path h_{t-1} -> h_t; the gemm below adds
                        // the one through W_hh.
                        dhr[j] = d * u;
                        zr[j] = dr;
                        zr[h + j] = du;
                        zr[2 * h + j] = dn;
                        dzr[j] = dr;
                        dzr[h + j] = du;
                        dzr[2 * h + j] = dn * rg;
                    }
                }
            }
        }
        // dh_{t-1} (+)= dzh_t W_hh: [rows, G*H] x [G*H, H].
        let (src, acc) = match math {
            CellMath::GruResetAfter => (&dzh[ti * gh..], true),
            _ => (&z[ti * gh..], false),
        };
        matmul(GemmArgs {
            mnk: (rows, h, gh),
            dst: dh,
            dst_rs: h,
            accumulate: acc,
            lhs: src,
            lhs_strides: (steps * gh, 1),
            rhs: w_hh,
            rhs_strides: (h, 1),
            threaded: false,
        });
    }
}

/// The pre-activation gradients of every step, after [`bptt`].
struct Backprop<E: Elem> {
    geo: Geo,
    /// `z` holds `dz [N*T, G*H]` now.
    saved: Saved<E>,
    /// `dzh [N*T, G*H]` (GRU; empty otherwise: `dzh = dz`).
    dzh: Scratch<E>,
    /// `N * T`.
    nt: usize,
}

impl<E: Elem> Backprop<E> {
    /// The recurrent side's pre-activation gradient `[N*T, G*H]`.
    fn dzh(&self) -> &[E] {
        match self.geo.math {
            CellMath::GruResetAfter => &self.dzh,
            _ => &self.saved.z,
        }
    }

    /// `dst [G*H, H] += dzh^T [G*H, N*T] x hp [N*T, H]`.
    fn add_w_hh(&self, dst: &mut [E]) {
        let Geo { h, gh, .. } = self.geo;
        let (dzh, hp) = (self.dzh(), &self.saved.hp[..]);
        add_product_by_rows(dst, (gh, h, self.nt), dzh, (1, gh), hp, WGRAD_ROWS);
    }

    /// `dst [G*H, I] += dz^T [G*H, N*T] x x [N*T, I]`; where rows of `x`
    /// repeat, `sum(dz rows)^T [G*H, distinct] x distinct rows [distinct, I]`
    /// (the rows of `dz` summed in order per distinct row of `x`).
    fn add_w_ih(&self, dst: &mut [E]) {
        let gh = self.geo.gh;
        let (dz, x) = (&self.saved.z[..], &self.saved.x[..]);
        let i = x.len() / self.nt.max(1);
        let Some(d) = &self.saved.distinct else {
            add_product_by_rows(dst, (gh, i, self.nt), dz, (1, gh), x, WGRAD_ROWS);
            return;
        };
        let u = d.rows.firsts.len();
        let mut dzu = vec![E::zero(); u * gh];
        for (row, &k) in dz.chunks_exact(gh.max(1)).zip(&d.rows.of_row) {
            add_run(&mut dzu[k as usize * gh..][..gh], row);
        }
        add_product_by_rows(dst, (gh, i, u), &dzu, (1, gh), &d.values, WGRAD_ROWS);
    }

    /// `dst [N*T, I] += dz [N*T, G*H] x W_ih [G*H, I]`.
    fn add_x(&self, dst: &mut [E]) {
        let gh = self.geo.gh;
        let (dz, w_ih) = (&self.saved.z[..], &self.saved.w.w_ih[..]);
        let i = w_ih.len() / gh.max(1);
        add_product_by_rows(dst, (self.nt, i, gh), dz, (gh, 1), w_ih, usize::MAX);
    }
}

/// The distinct rows of a recurrent layer's input and their values.
struct DistinctInput<E> {
    rows: DistinctRows,
    /// The rows `rows.firsts` of the input, one after another.
    values: Vec<E>,
}

/// `x` rows `firsts` (rows of `width`), one after another.
fn gather_rows<E: Elem>(x: &[E], width: usize, firsts: &[usize]) -> Vec<E> {
    let mut out = Vec::with_capacity(firsts.len() * width);
    for &r in firsts {
        out.extend_from_slice(&x[r * width..(r + 1) * width]);
    }
    out
}

/// `z [rows, G*H] = x [rows, I] W_ih^T` (`W_ih [G*H, I]` row-major), all
/// steps at once; with `distinct` rows of `x`, only the distinct rows are
/// multiplied, into the returned `[distinct, G*H]` (the `z` rows then are
/// left for the forward, which adds each row's product where it adds the
/// bias: see [`XProj`]).
fn input_projection<E: Elem>(
    x: &[E],
    w_ih: &[E],
    (rows, gh, i): (usize, usize, usize),
    distinct: Option<&DistinctInput<E>>,
    z: &mut [E],
) -> Option<Vec<E>> {
    let product = |lhs: &[E], m: usize, dst: &mut [E]| {
        matmul(GemmArgs {
            mnk: (m, gh, i),
            dst,
            dst_rs: gh,
            accumulate: false,
            lhs,
            lhs_strides: (i, 1),
            rhs: w_ih,
            rhs_strides: (1, i),
            threaded: true,
        })
    };
    let Some(d) = distinct else {
        product(x, rows, z);
        return None;
    };
    let mut zu = vec![E::zero(); d.rows.firsts.len() * gh];
    product(&d.values, d.rows.firsts.len(), &mut zu);
    Some(zu)
}

/// The input side of one run's pre-activations when `z` does not hold it:
/// the products of the distinct input rows (`[distinct, G*H]`), and for
/// each of the run's rows (`r * T + t`) the index of its distinct row.
#[derive(Clone, Copy)]
struct XProj<'a, E> {
    products: &'a [E],
    of_row: &'a [u32],
}

/// Rows of the destination per task of [`add_product_by_rows`].
const TASK_ROWS: usize = 64;

/// Depths (rows of `N*T`) per product of a weight's gradient
/// `dz^T [G*H, N*T] x v [N*T, w]`: the product's slice of `v` (`64 x w`)
/// stays in cache while every row of the destination takes it.
const WGRAD_ROWS: usize = 64;

/// `dst [m, n] += lhs [m, k] x rhs [k, n]` (`dst` and `rhs` with contiguous
/// rows of `n`), blocks of [`TASK_ROWS`] rows of `dst` as tasks on the team,
/// each task one product per `k_chunk` depths, in order. `sgemm` splits a
/// product by columns only, and these have 64 or 128 (the bench LSTM's
/// `dW_ih`, `dx`: one task, so one thread); by rows every thread gets work.
/// Each element of `dst` is summed by one task in an order fixed by the
/// sizes: the result does not depend on the thread count.
fn add_product_by_rows<E: Elem>(
    dst: &mut [E],
    (m, n, k): (usize, usize, usize),
    lhs: &[E],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[E],
    k_chunk: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    team::each_chunk_mut(&mut dst[..m * n], TASK_ROWS * n, |t, d| {
        let (r0, rows) = (t * TASK_ROWS, d.len() / n);
        for p0 in (0..k).step_by(k_chunk) {
            let p1 = p0.saturating_add(k_chunk).min(k);
            matmul(GemmArgs {
                mnk: (rows, n, p1 - p0),
                dst: &mut *d,
                dst_rs: n,
                accumulate: true,
                lhs: &lhs[r0 * lhs_rs + p0 * lhs_cs..],
                lhs_strides: (lhs_rs, lhs_cs),
                rhs: &rhs[p0 * n..],
                rhs_strides: (n, 1),
                threaded: false,
            });
        }
    });
}

/// Back-propagation through time, runs of rows in parallel: `go [N, T, H]`
/// is the output's gradient, `dh`, `dc` (`[N, H]`) the final state's, turned
/// in place into the initial state's.
fn bptt<E: KernelFloat>(
    geo: Geo,
    runs: &[(usize, usize)],
    mut saved: Saved<E>,
    go: &[E],
    dh: &mut [E],
    dc: &mut [E],
) -> Backprop<E> {
    let Geo {
        steps, h, gh, math, ..
    } = geo;
    let n = runs.last().map_or(0, |r| r.1);
    let gru = math == CellMath::GruResetAfter;
    let mut dzh = Scratch::uninit(if gru { n * steps * gh } else { 0 });
    {
        let rows = runs.iter().map(|&(lo, hi)| hi - lo);
        let side_len = if math == CellMath::Tanh { 0 } else { steps * h };
        let Saved {
            w, c0, z, hp, side, ..
        } = &mut saved;
        let zs = split_rows(z, steps * gh, rows.clone());
        let hps = split_rows(hp, steps * h, rows.clone());
        let sides = split_rows(side, side_len, rows.clone());
        let dzhs = split_rows(&mut dzh, if gru { steps * gh } else { 0 }, rows.clone());
        let dhs = split_rows(dh, h, rows.clone());
        let dcs = split_rows(dc, h, rows);
        let (w_hh, c0) = (&w.w_hh[..], &c0[..]);
        let items = zs
            .into_iter()
            .zip(hps)
            .zip(sides)
            .zip(dzhs)
            .zip(dhs.into_iter().zip(dcs))
            .zip(runs.iter().copied())
            .collect::<Vec<_>>();
        team::each_owned(items, |(((((z, hp), side), dzh), (dh, dc)), (lo, hi))| {
            let rows = hi - lo;
            backward_run_best(
                &geo,
                w_hh,
                RunBufs { rows, z, hp, side },
                dzh,
                &go[lo * steps * h..hi * steps * h],
                &c0[lo * h..hi * h],
                dh,
                dc,
            );
        });
    }
    Backprop {
        geo,
        saved,
        dzh,
        nt: n * steps,
    }
}

/// `dst[j] += sum over rows of m[row, j]` for `m` with rows of `dst.len()`.
fn add_column_sums<E: Elem>(dst: &mut [E], m: &[E]) {
    for row in m.chunks(dst.len().max(1)) {
        add_run(dst, row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-2, 2)` (enough to reach both tanh regions).
    use crate::kernels::test_values as values;

    fn scratch(v: &[f32]) -> HostParam<f32> {
        let mut s = Scratch::uninit(v.len());
        s.copy_from_slice(v);
        HostParam::Copied(s)
    }

    /// Every buffer one forward and one backward run writes, for a variant.
    type Run = fn(&Geo, &Weights<f32>, &mut [Vec<f32>; 8]);

    /// Buffers: z, hp, side, y, dzh, go, dh, dc.
    fn buffers(geo: &Geo, rows: usize, seed: u64) -> [Vec<f32>; 8] {
        let (t, h, gh) = (geo.steps, geo.h, geo.gh);
        [
            values(rows * t * gh, seed),
            vec![0.0; rows * t * h],
            vec![0.0; rows * t * h],
            vec![0.0; rows * t * h],
            vec![0.0; rows * t * gh],
            values(rows * t * h, seed + 1),
            values(rows * h, seed + 2),
            values(rows * h, seed + 3),
        ]
    }

    macro_rules! variant {
        ($fwd:ident, $bwd:ident) => {
            |geo: &Geo, w: &Weights<f32>, b: &mut [Vec<f32>; 8]| {
                let rows = b[6].len() / geo.h;
                let (h0, c0) = (values(rows * geo.h, 7), values(rows * geo.h, 8));
                let bias = values(geo.gh, 9);
                let [z, hp, side, y, dzh, go, dh, dc] = b;
                #[allow(unused_unsafe)]
                // SAFETY: called only for variants the CPU supports (below).
                unsafe {
                    $fwd(
                        geo,
                        w,
                        (&bias, None),
                        RunBufs { rows, z, hp, side },
                        y,
                        &h0,
                        &c0,
                    );
                    $bwd(
                        geo,
                        &w.w_hh,
                        RunBufs { rows, z, hp, side },
                        dzh,
                        go,
                        &c0,
                        dh,
                        dc,
                    );
                }
            }
        };
    }

    /// The all-step products split by rows (several tasks, several depth
    /// chunks, transposed and plain left operands) equal a naive product,
    /// bit for bit the same with 1 and 3 threads.
    #[test]
    fn products_by_rows_match_naive_and_ignore_the_thread_count() {
        let (m, n, k) = (2 * TASK_ROWS + 13, 7, 2 * WGRAD_ROWS + 9);
        let rhs = values(k * n, 21);
        for transposed in [false, true] {
            let lhs = values(m * k, 22);
            let strides = if transposed { (1, m) } else { (k, 1) };
            let dst0 = values(m * n, 23);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut dst = dst0.clone();
                pool.install(|| {
                    add_product_by_rows(&mut dst, (m, n, k), &lhs, strides, &rhs, WGRAD_ROWS)
                });
                dst
            };
            let got = run(1);
            for r in 0..m {
                for c in 0..n {
                    let mut want = dst0[r * n + c] as f64;
                    for p in 0..k {
                        let a = lhs[r * strides.0 + p * strides.1] as f64;
                        want += a * rhs[p * n + c] as f64;
                    }
                    let g = got[r * n + c] as f64;
                    assert!((g - want).abs() < 1e-4, "({r}, {c}): {g} vs {want}");
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&run(3)), "transposed={transposed}");
        }
    }

    /// The gate loops compiled for AVX2 and AVX-512 give the same bits as
    /// the baseline build (no FMA contraction), for every cell and both
    /// directions, forwards and backwards. (On a CPU with AVX-512F every
    /// variant hands the `f32` LSTM rows to `lstm_avx512`, tested there
    /// against the formulas.)
    #[test]
    fn every_isa_variant_gives_the_same_bits() {
        let (rows, steps, h) = (3, 4, 19);
        for (math, g) in [
            (CellMath::Tanh, 1),
            (CellMath::Lstm, 4),
            (CellMath::GruResetAfter, 3),
        ] {
            for reverse in [false, true] {
                let geo = Geo {
                    steps,
                    h,
                    gh: g * h,
                    reverse,
                    math,
                };
                let w = Weights::new(
                    scratch(&[]),
                    scratch(
                        &values(g * h * h, 3)
                            .iter()
                            .map(|v| v * 0.3)
                            .collect::<Vec<_>>(),
                    ),
                    scratch(&values(g * h, 4)),
                    h,
                );
                let mut want = buffers(&geo, rows, 11);
                let baseline: Run = variant!(forward_run, backward_run);
                baseline(&geo, &w, &mut want);
                assert!(want.iter().flatten().all(|v| v.is_finite()));
                #[allow(unused_mut)]
                let mut variants: Vec<(&str, Run)> = Vec::new();
                #[cfg(target_arch = "x86_64")]
                {
                    let avx2 = std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma");
                    if avx2 {
                        variants.push(("avx2", variant!(forward_run_avx2, backward_run_avx2)));
                    }
                    if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
                        variants
                            .push(("avx512", variant!(forward_run_avx512, backward_run_avx512)));
                    }
                }
                for (name, f) in variants {
                    let mut got = buffers(&geo, rows, 11);
                    f(&geo, &w, &mut got);
                    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(
                            same,
                            "{name} {math:?} reverse={reverse}: buffer {i} differs"
                        );
                    }
                }
            }
        }
    }
}
