//! The generic (dfdx-composed) layer paths on CUDA against the CPU: same
//! outputs, input gradients and batch-norm statistics. Built only with the
//! `cuda` feature (CI type-checks it with `cuda-check`; run it on a GPU with
//! `cargo test -p sxima-runtime --features cuda --test layers_cuda`).

#![cfg(feature = "cuda")]

mod layers_common;

use layers_common::values;
use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Dropout, GeLU, GlobalAvgPool,
    GlobalMaxPool, MaxPool2d, UpSampling2d, UpSampling2dBilinear, ZeroPadding2d,
};

type In = (usize, Const<3>, Const<9>, Const<8>);
const SHAPE: In = (4, Const, Const, Const);

/// Runs `$layer` (inference, traced) on `dev`; returns output and input gradient
/// for `L = sum(y * w)` with fixed pseudo-random `w`.
macro_rules! run_on {
    ($dev:expr, $layer:expr) => {{
        let dev = $dev;
        let x = dev.tensor_from_vec(
            values(4 * 3 * 9 * 8, 1).iter().map(|&v| v as f32).collect(),
            SHAPE,
        );
        let y = $layer.forward(x.leaky_trace());
        let s = *y.shape();
        let n = s.num_elements();
        let w = dev.tensor_from_vec(values(n, 2).iter().map(|&v| v as f32).collect(), s);
        let yv = y.as_vec();
        let g = (y * w).sum().backward();
        (yv, g.get(&x).as_vec())
    }};
}

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-4 * q.abs().max(1.0),
            "{what}[{i}]: cuda {p}, cpu {q}"
        );
    }
}

macro_rules! same_on_both {
    ($what:expr, $layer:expr) => {{
        let (yc, gc) = run_on!(Cuda::default(), $layer);
        let (yh, gh) = run_on!(Cpu::default(), $layer);
        close(concat!($what, " output"), &yc, &yh);
        close(concat!($what, " grad"), &gc, &gh);
    }};
}

#[test]
fn window_layers_agree_with_cpu() {
    same_on_both!(
        "MaxPool2d",
        MaxPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 9, 8, 5, 4>::new()
    );
    same_on_both!(
        "AvgPool2d",
        AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 9, 8, 5, 4, false>::new()
    );
    same_on_both!("AdaptiveAvgPool2d", AdaptiveAvgPool2d::<9, 8, 4, 5>::new());
    same_on_both!("AdaptiveMaxPool2d", AdaptiveMaxPool2d::<9, 8, 4, 5>::new());
    same_on_both!("GlobalAvgPool", GlobalAvgPool);
    same_on_both!("GlobalMaxPool", GlobalMaxPool);
    same_on_both!("UpSampling2d", UpSampling2d::<2, 2, 9, 8, 18, 16>::new());
    same_on_both!(
        "UpSampling2dBilinear",
        UpSampling2dBilinear::<2, 2, 9, 8, 18, 16, false>::new()
    );
    same_on_both!(
        "ZeroPadding2d",
        ZeroPadding2d::<1, 2, 3, 0, 9, 8, 12, 11>::new()
    );
    same_on_both!("GeLU", GeLU);
}

#[test]
fn batch_norm_training_agrees_with_cpu() {
    let cuda = Cuda::default();
    let cpu = Cpu::default();
    let mut bc = <BatchNorm2d<3, f32, Cuda> as BuildModule<Cuda, f32>>::build(&cuda);
    let mut bh = <BatchNorm2d<3, f32, Cpu> as BuildModule<Cpu, f32>>::build(&cpu);
    let data: Vec<f32> = values(4 * 3 * 9 * 8, 5).iter().map(|&v| v as f32).collect();
    let yc = bc
        .forward_mut(cuda.tensor_from_vec(data.clone(), SHAPE))
        .as_vec();
    let yh = bh.forward_mut(cpu.tensor_from_vec(data, SHAPE)).as_vec();
    close("BatchNorm2d output", &yc, &yh);
    close(
        "running_mean",
        &bc.running_mean.as_vec(),
        &bh.running_mean.as_vec(),
    );
    close(
        "running_var",
        &bc.running_var.as_vec(),
        &bh.running_var.as_vec(),
    );
}

#[test]
fn dropout_on_cuda_drops_about_p() {
    let cuda = Cuda::default();
    let x: Tensor<(usize, usize), f32, Cuda> = cuda.ones_like(&(100usize, 100usize));
    let y = Dropout::new(0.3).forward_mut(x).as_vec();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((zeros - 0.3).abs() < 0.03, "{zeros}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-5));
}
