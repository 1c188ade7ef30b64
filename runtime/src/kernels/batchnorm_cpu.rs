//! CPU batch norm: `Cpu`'s [`Backend::batch_norm_train`] and
//! [`Backend::batch_norm_infer`] for `f32` and `f64`, as plain loops over the
//! input viewed as `[N, C, L]` (`L = 1` for `(B, C)`, `L = H * W` for
//! `(B, C, H, W)`), with one hand-written backward op on the dfdx tape
//! (`Tape::add_backward_op`, `Gradients::get_or_alloc_mut`) instead of the
//! dozen broadcast ops of the generic composition.
//!
//! * Statistics per channel, channels in parallel (the kernels' `team`), each channel's
//!   sums by one task in a fixed order: `f32` values are accumulated in `f64`,
//!   in 8 lanes by position within a run of `L` (so the loop vectorizes),
//!   the lanes then summed pairwise. Results depend on the sizes only, never
//!   on the thread count. Mean first, then the mean squared deviation from
//!   it (two passes, like the generic path).
//! * Element-wise passes (output, input gradient) in parallel over runs of
//!   `L`, with per-channel coefficients in `E`.
//! * Backward of training, with `xhat = (x - mean) / sqrt(var + eps)` and
//!   `N' = N * L`: `dscale += sum(dy xhat)`, `dbias += sum(dy)`,
//!   `dx += gain / N' * (N' dy - sum(dy) - xhat sum(dy xhat))`, `gain =
//!   scale / sqrt(var + eps)`; of inference: `dx += gain dy`,
//!   `dscale += sum(dy (x - running_mean)) / sqrt(running_var + eps)`,
//!   `dbias += sum(dy)`. Every gradient is accumulated into the existing one.
//!
//! [`Backend::batch_norm_train`]: crate::backend::Backend::batch_norm_train
//! [`Backend::batch_norm_infer`]: crate::backend::Backend::batch_norm_infer

use std::mem::MaybeUninit;

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::host_view::host_view;
use crate::kernels::team;
use crate::layers::batchnorm_generic::unbias_factor;

/// The element types of the kernel, with their exact widening to `f64` and
/// rounding back (plain casts, so loops over them vectorize).
pub(crate) trait BnFloat: Elem {
    /// `self` as `f64` (exact).
    fn wide(self) -> f64;
    /// `v` rounded to `Self`.
    fn narrow(v: f64) -> Self;
}

impl BnFloat for f32 {
    #[inline(always)]
    fn wide(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn narrow(v: f64) -> f32 {
        v as f32
    }
}

impl BnFloat for f64 {
    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }
    #[inline(always)]
    fn narrow(v: f64) -> f64 {
        v
    }
}

/// The running statistics a training forward updates, and the weight of the
/// new batch statistic.
pub(crate) struct Running<'a, const C: usize, E: Dtype> {
    /// `running_mean [C]`.
    pub mean: &'a mut Tensor<Rank1<C>, E, Cpu>,
    /// `running_var [C]` (fed the unbiased batch variance).
    pub var: &'a mut Tensor<Rank1<C>, E, Cpu>,
    /// `running = (1 - momentum) * running + momentum * batch`.
    pub momentum: f64,
}

/// The input viewed as `[n, c, l]`: channel `ch` owns the runs of `l`
/// elements at `(i * c + ch) * l`, `i < n`.
#[derive(Clone, Copy, Debug)]
struct Geo {
    n: usize,
    c: usize,
    l: usize,
}

impl Geo {
    /// `[N, C, ..]` as `[N, C, L]` (a rank-1 shape as `[1, C, 1]`).
    fn of<S: Shape>(shape: &S, c: usize) -> Geo {
        let total = shape.num_elements();
        let n = if S::NUM_DIMS >= 2 {
            shape.concrete()[0]
        } else {
            1
        };
        let l = total.checked_div(n * c).unwrap_or(0);
        Geo { n, c, l }
    }

    /// Values per channel, as a float.
    fn count(&self) -> f64 {
        (self.n * self.l) as f64
    }

    /// Start of every run of channel `ch`, in order.
    fn runs(&self, ch: usize) -> impl Iterator<Item = usize> {
        let Geo { n, c, l } = *self;
        (0..n).map(move |i| (i * c + ch) * l)
    }

    /// Runs per parallel task in the element-wise passes: about one task per
    /// thread, at least 4096 elements each.
    fn runs_per_task(&self) -> usize {
        let runs = self.n * self.c;
        let threads = rayon::current_num_threads().max(1);
        let min = 4096usize.div_ceil(self.l.max(1));
        runs.div_ceil(threads).max(min).max(1)
    }

    /// Channels per parallel task in the per-channel sums: at least 4096
    /// elements each.
    fn channels_per_task(&self) -> usize {
        4096usize.div_ceil((self.n * self.l).max(1)).max(1)
    }
}

/// Accumulator lanes: element `j` of a run goes to lane `j % LANES`.
const LANES: usize = 8;

/// The lanes' total, summed pairwise in a fixed order.
#[inline(always)]
fn total(a: &[f64; LANES]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// Adds `f(v)` for every `v` of `run` into the lanes.
#[inline(always)]
fn add_run<F: BnFloat>(acc: &mut [f64; LANES], run: &[F], f: impl Fn(F) -> f64) {
    // Whole arrays of `LANES` into local lanes, so the loop body is a few
    // vector operations (through `&mut` lanes it stays scalar).
    let (chunks, rest) = run.as_chunks::<LANES>();
    let mut a = *acc;
    for ch in chunks {
        let w = ch.map(&f);
        for k in 0..LANES {
            a[k] += w[k];
        }
    }
    for (a, &v) in a.iter_mut().zip(rest) {
        *a += f(v);
    }
    *acc = a;
}

/// Adds `dy` into `sum` and `dy * (x - m)` into `dot` over one run.
#[inline(always)]
fn add_run_dot<F: BnFloat>(
    sum: &mut [f64; LANES],
    dot: &mut [f64; LANES],
    dy: &[F],
    x: &[F],
    m: F,
) {
    let (cd, rd) = dy.as_chunks::<LANES>();
    let (cx, rx) = x.as_chunks::<LANES>();
    let (mut s, mut t) = (*sum, *dot);
    for (d, v) in cd.iter().zip(cx) {
        let d = d.map(|e| e.wide());
        let c = v.map(|e| (e - m).wide());
        for k in 0..LANES {
            s[k] += d[k];
            t[k] += d[k] * c[k];
        }
    }
    for (k, (&d, &v)) in rd.iter().zip(rx).enumerate() {
        s[k] += d.wide();
        t[k] += d.wide() * (v - m).wide();
    }
    (*sum, *dot) = (s, t);
}

/// Declares `$name(args)`, which runs the `#[inline(always)]` function
/// `$body(args)` compiled for AVX-512F (as `$wide`) where the CPU has it,
/// as is elsewhere. Same results either way: the loops fix their order of
/// operations (explicit lanes, no fused multiply-add).
macro_rules! simd_dispatch {
    ($name:ident, $wide:ident => $body:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty)?) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $wide<F: BnFloat>($($a: $t),*) $(-> $r)? {
            $body($($a),*)
        }

        fn $name<F: BnFloat>($($a: $t),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { $wide($($a),*) };
            }
            $body($($a),*)
        }
    };
}

/// Batch mean and biased variance of channel `ch` (two passes).
#[inline(always)]
fn moments_body<F: BnFloat>(x: &[F], g: Geo, ch: usize) -> (f64, f64) {
    let mut acc = [0.0; LANES];
    for o in g.runs(ch) {
        add_run(&mut acc, &x[o..o + g.l], |v| v.wide());
    }
    let mean = total(&acc) / g.count();
    let mut acc = [0.0; LANES];
    for o in g.runs(ch) {
        add_run(&mut acc, &x[o..o + g.l], |v| {
            let d = v.wide() - mean;
            d * d
        });
    }
    (mean, total(&acc) / g.count())
}
simd_dispatch!(moments, moments_avx512 => moments_body(x: &[F], g: Geo, ch: usize) -> (f64, f64));

/// `(sum(dy), sum(dy * (x - m)))` over channel `ch`.
#[inline(always)]
fn dot_sums_body<F: BnFloat>(dy: &[F], x: &[F], m: F, g: Geo, ch: usize) -> (f64, f64) {
    let (mut sum, mut dot) = ([0.0; LANES], [0.0; LANES]);
    for o in g.runs(ch) {
        let r = o..o + g.l;
        add_run_dot(&mut sum, &mut dot, &dy[r.clone()], &x[r], m);
    }
    (total(&sum), total(&dot))
}
simd_dispatch!(dot_sums, dot_sums_avx512 => dot_sums_body(dy: &[F], x: &[F], m: F, g: Geo, ch: usize) -> (f64, f64));

/// [`dot_sums`] of every channel, with `m[ch]`, channels in parallel.
fn grad_sums<F: BnFloat>(dy: &[F], x: &[F], m: &[F], g: Geo) -> Vec<(f64, f64)> {
    per_channel(g, |ch| dot_sums(dy, x, m[ch], g, ch))
}

/// `f(ch)` for every channel, in channel order, runs of channels in
/// parallel (see [`Geo::channels_per_task`]).
fn per_channel<R: Send>(g: Geo, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let per = g.channels_per_task();
    team::map(g.c.div_ceil(per), |t| {
        (t * per..((t + 1) * per).min(g.c))
            .map(&f)
            .collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Runs `f(first_run, a_part, b_part)` on the parts of `a` (written) and
/// `b` that hold whole runs, parts in parallel.
fn each_task<A: Send, F: BnFloat>(
    g: Geo,
    a: &mut [A],
    b: &[F],
    f: impl Fn(usize, &mut [A], &[F]) + Sync,
) {
    let (k, l) = (g.runs_per_task(), g.l.max(1));
    team::each_chunk_mut(a, k * l, |t, a| f(t * k, a, team::chunk(b, k * l, t)));
}

/// [`each_task`] with a second read-only buffer `c`.
fn each_task2<F: BnFloat>(
    g: Geo,
    a: &mut [F],
    b: &[F],
    c: &[F],
    f: impl Fn(usize, &mut [F], &[F], &[F]) + Sync,
) {
    let (k, l) = (g.runs_per_task(), g.l.max(1));
    team::each_chunk_mut(a, k * l, |t, a| {
        f(t * k, a, team::chunk(b, k * l, t), team::chunk(c, k * l, t))
    });
}

/// `out = (x - m) * a + b` with channel coefficients `co[ch] = [m, a, b]`,
/// over whole runs from run `first`.
#[inline(always)]
fn affine_body<F: BnFloat>(
    out: &mut [MaybeUninit<F>],
    x: &[F],
    first: usize,
    g: Geo,
    co: &[[F; 3]],
) {
    let l = g.l.max(1);
    for (j, (o, x)) in out.chunks_mut(l).zip(x.chunks(l)).enumerate() {
        let [m, a, b] = co[(first + j) % g.c];
        for (o, &v) in o.iter_mut().zip(x) {
            o.write((v - m) * a + b);
        }
    }
}
simd_dispatch!(affine_part, affine_avx512 => affine_body(out: &mut [MaybeUninit<F>], x: &[F], first: usize, g: Geo, co: &[[F; 3]]));

/// The normalised output `(x - m) * a + b`, `co[ch] = [m, a, b]`.
fn affine<F: BnFloat>(x: &[F], g: Geo, co: &[[F; 3]]) -> Vec<F> {
    let mut out: Vec<F> = Vec::with_capacity(x.len());
    each_task(
        g,
        &mut out.spare_capacity_mut()[..x.len()],
        x,
        |first, o, x| affine_part(o, x, first, g, co),
    );
    // SAFETY: `each_task` hands out every element of the first `x.len()` of
    // the spare capacity, and `affine_body` writes each one it is handed.
    unsafe { out.set_len(x.len()) };
    out
}

/// Training input gradient `gi += a dy - b - k (x - m)`, channel
/// coefficients `co[ch] = [a, b, k, m]`, over whole runs from run `first`.
#[inline(always)]
fn dx_train_body<F: BnFloat>(gi: &mut [F], dy: &[F], x: &[F], first: usize, g: Geo, co: &[[F; 4]]) {
    let l = g.l.max(1);
    for (j, ((gi, dy), x)) in gi
        .chunks_mut(l)
        .zip(dy.chunks(l))
        .zip(x.chunks(l))
        .enumerate()
    {
        let [a, b, k, m] = co[(first + j) % g.c];
        for ((gi, &d), &v) in gi.iter_mut().zip(dy).zip(x) {
            *gi += a * d - b - k * (v - m);
        }
    }
}
simd_dispatch!(dx_train, dx_train_avx512 => dx_train_body(gi: &mut [F], dy: &[F], x: &[F], first: usize, g: Geo, co: &[[F; 4]]));

/// Inference input gradient `gi += a[ch] dy` over whole runs from run `first`.
#[inline(always)]
fn dx_infer_body<F: BnFloat>(gi: &mut [F], dy: &[F], first: usize, g: Geo, a: &[F]) {
    let l = g.l.max(1);
    for (j, (gi, dy)) in gi.chunks_mut(l).zip(dy.chunks(l)).enumerate() {
        let a = a[(first + j) % g.c];
        for (gi, &d) in gi.iter_mut().zip(dy) {
            *gi += a * d;
        }
    }
}
simd_dispatch!(dx_infer, dx_infer_avx512 => dx_infer_body(gi: &mut [F], dy: &[F], first: usize, g: Geo, a: &[F]));

/// `scale` and `bias` as host vectors.
fn params<const C: usize, F: BnFloat>(
    scale: &Tensor<Rank1<C>, F, Cpu>,
    bias: &Tensor<Rank1<C>, F, Cpu>,
) -> (Vec<F>, Vec<F>) {
    (scale.as_vec(), bias.as_vec())
}

/// Runs `$body` with `$dy: &[F]`, the gradient of `$out`, moved out of
/// `$grads` for the call (no copy) and put back afterwards; then adds
/// `sums[ch].0` to the gradient of `$bias` and `sums[ch].1 * k[ch]` to that of
/// `$scale`, where `(sums, k)` is what `$body` returns. (A macro: dfdx's
/// ghost tensor type, which `Gradients` is indexed by, is not public.)
macro_rules! backward {
    ($grads:ident, $out:expr, $scale:expr, $bias:expr, |$dy:ident| $body:block) => {{
        let dy_vec: Vec<F> = std::mem::take(&mut *$grads.get_or_alloc_mut($out)?);
        let result = (|| -> Result<(Vec<(f64, f64)>, Vec<f64>), CpuError> {
            let $dy: &[F] = &dy_vec;
            $body
        })();
        **$grads.get_or_alloc_mut($out)? = dy_vec;
        let (sums, k) = result?;
        for (d, (&(_, dot), &k)) in $grads
            .get_or_alloc_mut($scale)?
            .iter_mut()
            .zip(sums.iter().zip(&k))
        {
            *d += F::narrow(dot * k);
        }
        for (d, &(sum, _)) in $grads.get_or_alloc_mut($bias)?.iter_mut().zip(&sums) {
            *d += F::narrow(sum);
        }
        Ok(())
    }};
}

/// `Cpu`'s [`Backend::batch_norm_train`](crate::backend::Backend::batch_norm_train).
pub(crate) fn train<const C: usize, S: Shape, F: BnFloat, T: Tape<F, Cpu>>(
    x: Tensor<S, F, Cpu, T>,
    scale: &Tensor<Rank1<C>, F, Cpu>,
    bias: &Tensor<Rank1<C>, F, Cpu>,
    running: Running<'_, C, F>,
    eps: f64,
) -> Result<Tensor<S, F, Cpu, T>, CpuError> {
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let g = Geo::of(inp.shape(), C);
    let xs = host_view(&inp);
    let stats: Vec<(f64, f64)> = per_channel(g, |ch| moments(&xs, g, ch));
    let (sc, bi) = params(scale, bias);
    let inv_std: Vec<f64> = stats.iter().map(|&(_, v)| 1.0 / (v + eps).sqrt()).collect();
    let mean: Vec<F> = stats.iter().map(|&(m, _)| F::narrow(m)).collect();
    let gain: Vec<F> = sc
        .iter()
        .zip(&inv_std)
        .map(|(&s, &r)| F::narrow(s.wide() * r))
        .collect();
    let co: Vec<[F; 3]> = (0..C).map(|ch| [mean[ch], gain[ch], bi[ch]]).collect();
    let out = affine(&xs, g, &co);

    // Running statistics, as the generic path's `axpy` in `F`.
    let mom = running.momentum;
    let (keep, m_new) = (F::narrow(1.0 - mom), F::narrow(mom));
    let v_new = F::narrow(mom * unbias_factor(g.count()));
    let rm: Vec<F> = running
        .mean
        .as_vec()
        .iter()
        .zip(&stats)
        .map(|(&r, &(m, _))| r * keep + F::narrow(m) * m_new)
        .collect();
    let rv: Vec<F> = running
        .var
        .as_vec()
        .iter()
        .zip(&stats)
        .map(|(&r, &(_, v))| r * keep + F::narrow(v) * v_new)
        .collect();
    running.mean.copy_from(&rm);
    running.var.copy_from(&rv);

    let out = inp.device().try_tensor_from_vec(out, *inp.shape())?;
    if T::OWNS_TAPE {
        let ghosts = (out.ghost(), inp.ghost(), scale.ghost(), bias.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<F, Cpu>| {
            let (out_g, inp_g, scale_g, bias_g) = &ghosts;
            backward!(grads, out_g, scale_g, bias_g, |dy| {
                let sums = grad_sums(dy, &xs, &mean, g);
                // dx = gain dy - gain sum(dy) / N' - (x - mean) gain inv_std sum(dy xhat) / N'
                let n = g.count();
                let co: Vec<[F; 4]> = (0..C)
                    .map(|ch| {
                        let ((sum, dot), a, r) = (sums[ch], gain[ch], inv_std[ch]);
                        let sum_xhat = dot * r;
                        [
                            a,
                            F::narrow(a.wide() * sum / n),
                            F::narrow(a.wide() * r * sum_xhat / n),
                            mean[ch],
                        ]
                    })
                    .collect();
                let gi = &mut grads.get_or_alloc_mut(inp_g)?[..];
                each_task2(g, gi, dy, &xs, |first, gi, dy, x| {
                    dx_train(gi, dy, x, first, g, &co)
                });
                Ok((sums, inv_std.clone()))
            })
        });
    }
    Ok(out.put_tape(tape))
}

/// `Cpu`'s [`Backend::batch_norm_infer`](crate::backend::Backend::batch_norm_infer).
pub(crate) fn infer<const C: usize, S: Shape, F: BnFloat, T: Tape<F, Cpu>>(
    x: Tensor<S, F, Cpu, T>,
    scale: &Tensor<Rank1<C>, F, Cpu>,
    bias: &Tensor<Rank1<C>, F, Cpu>,
    running_mean: &Tensor<Rank1<C>, F, Cpu>,
    running_var: &Tensor<Rank1<C>, F, Cpu>,
    eps: f64,
) -> Result<Tensor<S, F, Cpu, T>, CpuError> {
    let (inp, mut tape) = x.try_contiguous()?.split_tape();
    let g = Geo::of(inp.shape(), C);
    let xs = host_view(&inp);
    let (sc, bi) = params(scale, bias);
    let mean = running_mean.as_vec();
    // As the generic path: std = sqrt(var + eps) and gain = scale / std in `F`.
    let eps_f = F::narrow(eps);
    let std: Vec<F> = running_var
        .as_vec()
        .iter()
        .map(|&v| (v + eps_f).sqrt())
        .collect();
    let gain: Vec<F> = sc.iter().zip(&std).map(|(&s, &d)| s / d).collect();
    let co: Vec<[F; 3]> = (0..C).map(|ch| [mean[ch], gain[ch], bi[ch]]).collect();
    let out = affine(&xs, g, &co);
    let out = inp.device().try_tensor_from_vec(out, *inp.shape())?;
    if T::OWNS_TAPE {
        let ghosts = (out.ghost(), inp.ghost(), scale.ghost(), bias.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<F, Cpu>| {
            let (out_g, inp_g, scale_g, bias_g) = &ghosts;
            backward!(grads, out_g, scale_g, bias_g, |dy| {
                let sums = grad_sums(dy, &xs, &mean, g);
                let gi = &mut grads.get_or_alloc_mut(inp_g)?[..];
                each_task(g, gi, dy, |first, gi, dy| dx_infer(gi, dy, first, g, &gain));
                let inv_std: Vec<f64> = std.iter().map(|&d| 1.0 / d.wide()).collect();
                Ok((sums, inv_std.clone()))
            })
        });
    }
    Ok(out.put_tape(tape))
}
