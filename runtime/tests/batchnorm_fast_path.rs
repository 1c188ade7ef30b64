//! The CPU batch-norm kernel (`kernels::batchnorm_cpu`, `Cpu`'s
//! `Backend::batch_norm_train` / `batch_norm_infer`) against the
//! device-generic composition (`layers::batchnorm_generic`): outputs, updated
//! running statistics and the gradients of `x`, `scale` and `bias` (each
//! also reached by another term, so accumulation into an existing gradient
//! is checked), for `(B, C)`, `(B, C, L)` and `(B, C, H, W)` inputs with odd
//! sizes and `B = 2`, training and inference, with and without a tape,
//! `f64` (tight) and `f32` (loose); plus a broadcast (strided) input.

use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::batchnorm_generic::{
    batch_norm_infer_generic, batch_norm_train_generic,
};
use sxima_runtime::{Backend, Elem};
use sxima_testkit::first_mismatch;

/// Everything one run produces, as named host vectors.
type Results = Vec<(&'static str, Vec<f64>)>;

fn f64s<E: Elem>(v: Vec<E>) -> Vec<f64> {
    v.into_iter()
        .map(|a| a.to_f64().unwrap_or(f64::NAN))
        .collect()
}

fn uniform<E: Elem>(lo: f64, hi: f64) -> rand_distr::Uniform<E> {
    rand_distr::Uniform::new(E::from(lo).unwrap(), E::from(hi).unwrap())
}

/// Training (batch statistics, running statistics updated) or inference
/// (running statistics).
#[derive(Clone, Copy, Debug)]
enum Mode {
    Train,
    Infer,
}

/// The implementation under test or the reference.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// `Cpu`'s `Backend` methods (the kernel).
    Kernel,
    /// The device-generic composition.
    Generic,
}

/// Parameters and running statistics `[C]` of one run.
struct Params<const C: usize, E: Elem> {
    scale: Tensor<Rank1<C>, E, Cpu>,
    bias: Tensor<Rank1<C>, E, Cpu>,
    mean: Tensor<Rank1<C>, E, Cpu>,
    var: Tensor<Rank1<C>, E, Cpu>,
}

/// `eps` and `momentum` of every call.
const EPS: f64 = 1e-3;
const MOMENTUM: f64 = 0.3;

/// One batch norm of `x [S]` (channels on axis 1) in `mode` on `path`,
/// with or without a tape (`T`); training updates `p.mean` and `p.var`.
fn batch_norm<const C: usize, S, Ax, E, T>(
    mode: Mode,
    path: Path,
    p: &mut Params<C, E>,
    x: Tensor<S, E, Cpu, T>,
) -> Tensor<S, E, Cpu, T>
where
    S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
    Ax: Axes,
    E: Elem,
    Cpu: Backend<E>,
    T: Tape<E, Cpu>,
{
    let Params {
        scale,
        bias,
        mean,
        var,
    } = p;
    match (mode, path) {
        (Mode::Train, Path::Kernel) => <Cpu as Backend<E>>::batch_norm_train::<C, S, Ax, T>(
            x, scale, bias, mean, var, EPS, MOMENTUM,
        ),
        (Mode::Train, Path::Generic) => batch_norm_train_generic::<C, S, Ax, E, Cpu, T>(
            x, scale, bias, mean, var, EPS, MOMENTUM,
        ),
        (Mode::Infer, Path::Kernel) => {
            <Cpu as Backend<E>>::batch_norm_infer::<C, S, Ax, T>(x, scale, bias, mean, var, EPS)
        }
        (Mode::Infer, Path::Generic) => {
            batch_norm_infer_generic::<C, S, Ax, E, Cpu, T>(x, scale, bias, mean, var, EPS)
        }
    }
    .expect("batch norm")
}

/// One run in `mode` on `path`, from fresh random tensors of `seed`. With a
/// tape: batch norm applied twice in a row (so the parameter gradients
/// accumulate over two backward ops), loss
/// `sum(out * go) + sum(x * gx) + sum(scale * gs) + sum(bias * gb)`;
/// without: applied once. Returns the output, the gradients (taped) and the
/// running statistics.
fn run<const C: usize, S, Ax, E>(
    seed: u64,
    shape: S,
    mode: Mode,
    taped: bool,
    path: Path,
) -> Results
where
    S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
    Ax: Axes,
    E: Elem,
    Cpu: Backend<E>,
{
    let dev = Cpu::seed_from_u64(seed);
    // Off-centre input, so the mean matters.
    let x: Tensor<S, E, Cpu> = dev.sample_like(&shape, uniform(-1.0, 3.0));
    let go: Tensor<S, E, Cpu> = dev.sample_like(&shape, uniform(-1.0, 1.0));
    let gx: Tensor<S, E, Cpu> = dev.sample_like(&shape, uniform(-1.0, 1.0));
    let mut p = Params::<C, E> {
        scale: dev.sample_like(&Rank1::<C>::default(), uniform(0.5, 1.5)),
        bias: dev.sample_like(&Rank1::<C>::default(), uniform(-1.0, 1.0)),
        mean: dev.sample_like(&Rank1::<C>::default(), uniform(-0.5, 0.5)),
        var: dev.sample_like(&Rank1::<C>::default(), uniform(0.5, 2.0)),
    };
    let (gs, gb) = (
        dev.sample_like(&Rank1::<C>::default(), uniform(-1.0, 1.0)),
        dev.sample_like(&Rank1::<C>::default(), uniform(-1.0, 1.0)),
    );
    let bn = |p: &mut Params<C, E>, x| batch_norm::<C, S, Ax, E, _>(mode, path, p, x);
    let mut res: Results = Vec::new();
    if taped {
        let y = bn(&mut p, x.leaky_trace());
        let y = bn(&mut p, y);
        res.push(("output", f64s(y.as_vec())));
        let loss = (y * go).sum::<Rank0, _>()
            + (x.leaky_trace() * gx).sum::<Rank0, _>()
            + (p.scale.leaky_trace() * gs).sum::<Rank0, _>()
            + (p.bias.leaky_trace() * gb).sum::<Rank0, _>();
        let g = loss.backward();
        res.push(("grad x", f64s(g.get(&x).as_vec())));
        res.push(("grad scale", f64s(g.get(&p.scale).as_vec())));
        res.push(("grad bias", f64s(g.get(&p.bias).as_vec())));
    } else {
        let y = batch_norm::<C, S, Ax, E, _>(mode, path, &mut p, x);
        res.push(("output", f64s(y.as_vec())));
    }
    res.push(("running_mean", f64s(p.mean.as_vec())));
    res.push(("running_var", f64s(p.var.as_vec())));
    res
}

/// Asserts equal results within `tol`, each non-empty and not all zero.
fn assert_same(what: &str, fast: &Results, generic: &Results, tol: f64) {
    assert_eq!(fast.len(), generic.len(), "{what}: result count");
    for ((name, a), (name_g, b)) in fast.iter().zip(generic) {
        assert_eq!(name, name_g);
        assert!(
            !a.is_empty() && a.iter().any(|v| *v != 0.0),
            "{what} {name}: empty or all zero"
        );
        if let Some((i, got, want)) = first_mismatch(a, b, tol) {
            panic!("{what} {name}[{i}]: fast {got}, generic {want}");
        }
    }
}

/// Kernel against generic for one shape: training and inference, with and
/// without a tape.
fn compare<const C: usize, S, Ax, E>(what: &str, shape: S, tol: f64)
where
    S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
    Ax: Axes,
    E: Elem,
    Cpu: Backend<E>,
{
    for (k, mode) in [Mode::Train, Mode::Infer].into_iter().enumerate() {
        for taped in [true, false] {
            let seed = 10 + k as u64;
            let fast = run::<C, S, Ax, E>(seed, shape, mode, taped, Path::Kernel);
            let generic = run::<C, S, Ax, E>(seed, shape, mode, taped, Path::Generic);
            let what = format!("{what} {shape:?} {mode:?} taped={taped}");
            assert_same(&what, &fast, &generic, tol);
        }
    }
}

fn all_shapes<E: Elem>(tol: f64)
where
    Cpu: Backend<E>,
{
    let t = std::any::type_name::<E>();
    // (B, C): L = 1.
    compare::<5, _, Axis<0>, E>(t, (7, Const::<5>), tol);
    compare::<3, _, Axis<0>, E>(t, (2, Const::<3>), tol);
    // (B, C, L): odd L, L below and above the 8 accumulator lanes.
    compare::<3, _, Axes2<0, 2>, E>(t, (5, Const::<3>, 11), tol);
    compare::<4, _, Axes2<0, 2>, E>(t, (2, Const::<4>, 3), tol);
    // (B, C, H, W): odd sizes, B = 2, and enough elements for several
    // parallel tasks.
    compare::<3, _, Axes3<0, 2, 3>, E>(t, (3, Const::<3>, 5, 7), tol);
    compare::<5, _, Axes3<0, 2, 3>, E>(t, (2, Const::<5>, 4, 4), tol);
    compare::<6, _, Axes3<0, 2, 3>, E>(t, (9, Const::<6>, 17, 19), tol);
}

#[test]
fn batch_norm_kernel_matches_generic_f64() {
    all_shapes::<f64>(1e-11);
}

#[test]
fn batch_norm_kernel_matches_generic_f32() {
    all_shapes::<f32>(2e-4);
}

/// A broadcast input (strides of zero) reads as its broadcast values.
#[test]
fn batch_norm_kernel_reads_a_broadcast_input() {
    let dev = Cpu::seed_from_u64(5);
    let row: Tensor<Rank2<3, 4>, f64, Cpu> = dev.sample_normal();
    let x: Tensor<Rank3<2, 3, 4>, f64, Cpu> = row.broadcast();
    let params = || Params::<3, f64> {
        scale: dev.tensor([1.0, 2.0, 0.5]),
        bias: dev.tensor([0.0, 1.0, -1.0]),
        mean: dev.zeros(),
        var: dev.ones(),
    };
    let (mut p1, mut p2) = (params(), params());
    let fast = batch_norm::<3, _, Axes2<0, 2>, _, _>(Mode::Train, Path::Kernel, &mut p1, x.clone());
    let generic = batch_norm::<3, _, Axes2<0, 2>, _, _>(Mode::Train, Path::Generic, &mut p2, x);
    assert!(first_mismatch(&fast.as_vec(), &generic.as_vec(), 1e-12).is_none());
    assert!(first_mismatch(&p1.mean.as_vec(), &p2.mean.as_vec(), 1e-12).is_none());
    assert!(first_mismatch(&p1.var.as_vec(), &p2.var.as_vec(), 1e-12).is_none());
}

/// The kernel's results (output, running statistics, gradients) are the same
/// bits on 1, 2 and 3 threads: per-channel sums run in one task each, in an
/// order fixed by the sizes.
#[test]
fn batch_norm_kernel_is_thread_count_independent() {
    let on = |threads: usize, mode: Mode| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let shape = (13, Const::<7>, 9, 11);
                run::<7, _, Axes3<0, 2, 3>, f32>(3, shape, mode, true, Path::Kernel)
            })
    };
    for mode in [Mode::Train, Mode::Infer] {
        let one = on(1, mode);
        for threads in [2, 3] {
            let other = on(threads, mode);
            for ((name, a), (_, b)) in one.iter().zip(&other) {
                let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{name}: 1 vs {threads} threads, {mode:?}");
            }
        }
    }
}
