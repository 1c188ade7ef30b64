//! Times forward + backward of the lecture CNN's two conv layers at batch 64
//! (`conv5x5 1->32` on 28x28 and `conv5x5 32->64` on 12x12), on `Cpu` with
//! `f32`, through the CPU fast path (what `Conv2d` runs on `Cpu`) and through
//! the device-generic composed path (what `Cuda` runs), and prints samples/s.
//! Then it times a whole training step of the lecture CNN (conv-relu-pool x2,
//! dense 1024->128->10, cross-entropy, Adam) with the pooling written as
//! dfdx `reshape + max` (the real pooling layer lives elsewhere), for a rough
//! comparison with PyTorch's training samples/s.
//!
//! Run: `cargo run --release --example bench_conv [seconds per case]`.

use std::time::{Duration, Instant};

use sxima::dfdx::nn::modules::Linear;
use sxima::dfdx::nn::{BuildModule, Module, ModuleVisitor, TensorCollection, ZeroGrads};
use sxima::dfdx::optim::{Adam, AdamConfig, Optimizer};
use sxima::dfdx::prelude::*;
use sxima::runtime::layers::conv_geom::ConvGeom;
use sxima::runtime::layers::im2col::{conv_forward, conv_forward_generic};
use sxima::runtime::layers::Conv2d;

const BATCH: usize = 64;

type Conv1<E = f32, D = Cpu> =
    Conv2d<1, 32, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 28, 28, 24, 24, E, D>;
type Conv2<E = f32, D = Cpu> =
    Conv2d<32, 64, 5, 5, 1, 1, 1, 1, 1, 32, 0, 0, 0, 0, 12, 12, 8, 8, E, D>;

/// The lecture CNN, written out by hand for the benchmark.
struct Cnn<E: Dtype, D: Storage<E>> {
    c1: Conv1<E, D>,
    c2: Conv2<E, D>,
    f3: Linear<1024, 128, E, D>,
    f4: Linear<128, 10, E, D>,
}

impl<E: sxima::runtime::Elem, D: Device<E>> TensorCollection<E, D> for Cnn<E, D> {
    type To<E2: Dtype, D2: Device<E2>> = Cnn<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("c1", |s| &s.c1, |s| &mut s.c1),
                Self::module("c2", |s| &s.c2, |s| &mut s.c2),
                Self::module("f3", |s| &s.f3, |s| &mut s.f3),
                Self::module("f4", |s| &s.f4, |s| &mut s.f4),
            ),
            |(c1, c2, f3, f4)| Cnn { c1, c2, f3, f4 },
        )
    }
}

/// A tensor on the training tape.
type Traced<S> = Tensor<S, f32, Cpu, OwnedTape<f32, Cpu>>;

/// 2x2 max pooling, stride 2, as `reshape + max` (stand-in for the pooling layer).
fn pool2<const C: usize, const H: usize, const W: usize, const H2: usize, const W2: usize>(
    x: Traced<Rank4<BATCH, C, H, W>>,
) -> Traced<Rank4<BATCH, C, H2, W2>> {
    x.reshape::<(
        Const<BATCH>,
        Const<C>,
        Const<H2>,
        Const<2>,
        Const<W2>,
        Const<2>,
    )>()
    .max::<_, Axes2<3, 5>>()
}

/// One training step of the lecture CNN at batch 64; returns the loss.
fn train_step(
    m: &mut Cnn<f32, Cpu>,
    opt: &mut Adam<Cnn<f32, Cpu>, f32, Cpu>,
    grads: &mut Gradients<f32, Cpu>,
    x: &Tensor<Rank4<BATCH, 1, 28, 28>, f32, Cpu>,
    y: &Tensor<Rank2<BATCH, 10>, f32, Cpu>,
) -> f32 {
    let h =
        m.c1.forward(
            x.clone()
                .traced(std::mem::replace(grads, Gradients::leaky())),
        )
        .relu();
    let h: Tensor<Rank4<BATCH, 32, 12, 12>, _, _, _> = pool2(h);
    let h = m.c2.forward(h).relu();
    let h: Tensor<Rank4<BATCH, 64, 4, 4>, _, _, _> = pool2(h);
    let h = h.reshape::<Rank2<BATCH, 1024>>();
    let logits = m.f4.forward(m.f3.forward(h).relu());
    let loss = cross_entropy_with_logits_loss(logits, y.clone());
    let value = loss.array();
    *grads = loss.backward();
    opt.update(m, grads).unwrap();
    m.zero_grads(grads);
    value
}

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Fast,
    Generic,
}

/// One forward + backward of a conv with this geometry; returns a checksum.
fn step(
    dev: &Cpu,
    geom: &ConvGeom,
    x: &Tensor<(usize,), f32, Cpu>,
    w: &Tensor<(usize, usize), f32, Cpu>,
    b: &Tensor<(usize,), f32, Cpu>,
    path: Path,
) -> f32 {
    let grads = Gradients::leaky();
    let xt = x.clone().traced(grads);
    let (wt, bt) = (w.retaped(), Some(b.retaped()));
    let y = match path {
        Path::Fast => conv_forward(xt, wt, bt, geom),
        Path::Generic => conv_forward_generic(xt, wt, bt, geom),
    }
    .unwrap();
    let g = y.sum::<(), _>().backward();
    let _ = dev;
    g.get(w).as_vec()[0]
}

/// Throughput of `f` over about `secs` seconds: `(samples per wall second,
/// samples per CPU second of this process)`. On a shared machine the second
/// number is the steadier one; an idle 2-core machine gets up to twice it.
fn time(secs: f64, mut f: impl FnMut() -> f32) -> (f64, f64) {
    f(); // warm-up (allocations, rayon pool)
    let (start, cpu0, mut iters, mut sink) = (Instant::now(), cpu_seconds(), 0usize, 0.0);
    while start.elapsed() < Duration::from_secs_f64(secs) || iters < 3 {
        sink += f();
        iters += 1;
    }
    std::hint::black_box(sink);
    let samples = (iters * BATCH) as f64;
    let cpu = cpu_seconds() - cpu0;
    (
        samples / start.elapsed().as_secs_f64(),
        if cpu > 0.0 { samples / cpu } else { f64::NAN },
    )
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 Hz ticks), or 0.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime, stime are fields 14, 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    if f.len() > 13 {
        (f[11] + f[12]) / 100.0
    } else {
        0.0
    }
}

fn main() {
    // Training on the CPU: keep freed step buffers in the process (opt-in,
    // changes glibc's malloc settings for the whole process).
    sxima::runtime::tune_host_allocator();
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dev = Cpu::seed_from_u64(0);
    println!(
        "conv forward+backward, batch {BATCH}, f32, Cpu, {} threads available",
        rayon_threads()
    );
    let c1 = Conv1::build(&dev);
    let c2 = Conv2::build(&dev);
    let cases = [
        (
            "conv1 5x5 1->32 28x28",
            Conv1::<f32, Cpu>::geom(BATCH),
            c1.weight.clone().reshape_like(&(32, 25)),
            c1.bias.clone().reshape_like(&(32,)),
        ),
        (
            "conv2 5x5 32->64 12x12",
            Conv2::<f32, Cpu>::geom(BATCH),
            c2.weight.clone().reshape_like(&(64, 800)),
            c2.bias.clone().reshape_like(&(64,)),
        ),
    ];
    // Seconds per sample, [fast wall, fast cpu, generic wall, generic cpu].
    let mut per_sample = [0.0f64; 4];
    let show = |name: &str, r: [f64; 4]| {
        println!(
            "{name:<24} fast {:>7.0}/s wall {:>7.0}/cpu-s | generic {:>6.0}/s wall {:>6.0}/cpu-s | fast/generic {:.1}x",
            r[0], r[1], r[2], r[3], r[1] / r[3]
        )
    };
    for (name, geom, w, b) in &cases {
        let x = dev.sample_normal_like(&(geom.input_len(),));
        let fast = time(secs, || step(&dev, geom, &x, w, b, Path::Fast));
        let generic = time(secs, || step(&dev, geom, &x, w, b, Path::Generic));
        let r = [fast.0, fast.1, generic.0, generic.1];
        for (acc, v) in per_sample.iter_mut().zip(r) {
            *acc += 1.0 / v;
        }
        show(name, r);
    }
    show("both convs", per_sample.map(|v| 1.0 / v));

    let mut cnn = Cnn::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(&cnn, AdamConfig::default());
    let mut grads = cnn.alloc_grads();
    let x: Tensor<Rank4<BATCH, 1, 28, 28>, f32, _> = dev.sample_normal();
    let labels: Tensor<Rank2<BATCH, 10>, f32, _> = dev.tensor_from_vec(
        (0..BATCH * 10)
            .map(|i| if i % 10 == (i / 10) % 10 { 1.0 } else { 0.0 })
            .collect(),
        Default::default(),
    );
    let (wall, cpu) = time(secs, || {
        train_step(&mut cnn, &mut opt, &mut grads, &x, &labels)
    });
    println!(
        "lecture CNN train step (Adam; pooling as reshape+max): {wall:.0} samples/s wall, {cpu:.0} samples/cpu-s"
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
