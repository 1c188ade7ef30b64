//! Times forward + backward of the lecture CNN's two conv layers at batch 64
//! (`conv5x5 1->32` on 28x28 and `conv5x5 32->64` on 12x12), on `Cpu` with
//! `f32`, through the CPU fast path (what `Conv2d` runs on `Cpu`) and through
//! the device-generic composed path (what `Cuda` runs), and prints samples/s.
//!
//! Run: `cargo run --release --example bench_conv [seconds per case]`.

use std::time::{Duration, Instant};

use sxima::dfdx::nn::BuildModule;
use sxima::dfdx::prelude::*;
use sxima::runtime::layers::im2col::{conv_forward, conv_forward_generic};
use sxima::runtime::layers::{Conv2d, ConvGeom};

const BATCH: usize = 64;

type Conv1 = Conv2d<1, 32, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 28, 28, 24, 24, f32, Cpu>;
type Conv2 = Conv2d<32, 64, 5, 5, 1, 1, 1, 1, 1, 32, 0, 0, 0, 0, 12, 12, 8, 8, f32, Cpu>;

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

/// Samples per second of `step` over about `secs` seconds.
fn time(secs: f64, mut f: impl FnMut() -> f32) -> f64 {
    f(); // warm-up (allocations, rayon pool)
    let (start, mut iters, mut sink) = (Instant::now(), 0usize, 0.0);
    while start.elapsed() < Duration::from_secs_f64(secs) || iters < 3 {
        sink += f();
        iters += 1;
    }
    std::hint::black_box(sink);
    (iters * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dev = Cpu::seed_from_u64(0);
    println!(
        "conv forward+backward, batch {BATCH}, f32, Cpu, {} rayon threads",
        rayon_threads()
    );
    let c1 = Conv1::build(&dev);
    let c2 = Conv2::build(&dev);
    let cases = [
        (
            "conv1 5x5 1->32 28x28",
            Conv1::geom(BATCH),
            c1.weight.clone().reshape_like(&(32, 25)),
            c1.bias.clone().reshape_like(&(32,)),
        ),
        (
            "conv2 5x5 32->64 12x12",
            Conv2::geom(BATCH),
            c2.weight.clone().reshape_like(&(64, 800)),
            c2.bias.clone().reshape_like(&(64,)),
        ),
    ];
    let mut per_sample = [0.0f64; 2]; // seconds per sample, [fast, generic]
    for (name, geom, w, b) in &cases {
        let x = dev.sample_normal_like(&(geom.input_len(),));
        let fast = time(secs, || step(&dev, geom, &x, w, b, Path::Fast));
        let generic = time(secs, || step(&dev, geom, &x, w, b, Path::Generic));
        per_sample[0] += 1.0 / fast;
        per_sample[1] += 1.0 / generic;
        println!(
            "{name:<24} fast path {fast:>9.0} samples/s   generic path {generic:>9.0} samples/s   ({:.1}x)",
            fast / generic
        );
    }
    println!(
        "{:<24} fast path {:>9.0} samples/s   generic path {:>9.0} samples/s   ({:.1}x)",
        "both convs",
        1.0 / per_sample[0],
        1.0 / per_sample[1],
        per_sample[1] / per_sample[0]
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
