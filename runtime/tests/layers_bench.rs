//! Timings of the pooling / upsampling layers on the lecture CNN's sizes
//! (ignored by default; run with
//! `cargo test --release -p sxima-runtime --test layers_bench -- --ignored --nocapture`).

use std::time::Instant;

use sxima_runtime::dfdx::nn::Module;
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::pool::Pool2dGeom;
use sxima_runtime::layers::window::{window_max_generic, window_sum_generic};
use sxima_runtime::layers::{MaxPool2d, UpSampling2d};

/// Best of `reps` runs (the machine is shared; the minimum is the stable number).
fn time<F: FnMut()>(what: &str, reps: usize, mut f: F) -> f64 {
    f();
    let ms = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min);
    println!("{what}: {ms:.2} ms");
    ms
}

#[test]
#[ignore]
fn bench_pool_and_upsample() {
    let dev = Cpu::default();
    let x: Tensor<(usize, Const<32>, Const<24>, Const<24>), f32, Cpu> =
        dev.sample_normal_like(&(64, Const, Const, Const));
    let pool = MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 24, 24, 12, 12>::new();
    time("MaxPool2d 2x2 (64,32,24,24) forward", 20, || {
        let _ = pool.forward(x.clone());
    });
    time("MaxPool2d 2x2 (64,32,24,24) forward+backward", 20, || {
        let y = pool.forward(x.leaky_trace());
        let _ = y.sum().backward();
    });
    let plan = Pool2dGeom::new((24, 24), (2, 2), (2, 2), [0; 4])
        .unwrap()
        .max_plan();
    let xd = x
        .clone()
        .reshape_like(&(64usize, 32usize, 24usize, 24usize));
    time("generic max pool forward+backward", 3, || {
        let y = window_max_generic(
            xd.leaky_trace(),
            &plan,
            (64usize, 32usize, 12usize, 12usize),
        )
        .unwrap();
        let _ = y.sum().backward();
    });
    let up = UpSampling2d::<2, 2, 24, 24, 48, 48>::new();
    time("UpSampling2d x2 (64,32,24,24) forward+backward", 20, || {
        let y = up.forward(x.leaky_trace());
        let _ = y.sum().backward();
    });
    let nplan = sxima_runtime::layers::upsample::nearest_plan(24, 24, 2, 2);
    time("generic nearest x2 forward+backward", 3, || {
        let y = window_sum_generic(
            xd.leaky_trace(),
            &nplan,
            (64usize, 32usize, 48usize, 48usize),
        )
        .unwrap();
        let _ = y.sum().backward();
    });
    // Reference point: one elementwise op and a reduction on the same tensor.
    time("reference: relu forward+backward", 20, || {
        let y = x.leaky_trace().relu();
        let _ = y.sum().backward();
    });
}
