//! Behaviour and finite-difference gradient tests for the activations,
//! `Dropout` and `BatchNorm1d` / `BatchNorm2d`.

mod layers_common;

use layers_common::{check_input_gradient, values};
use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{BatchNorm1d, BatchNorm2d, Dropout, GeLU, GeLUTanh, LogSoftmax, SiLU};

#[test]
fn activations_gradients_match_finite_differences() {
    let shape = (3usize, 5usize);
    check_input_gradient("GeLU", shape, 1, |x| GeLU.forward(x));
    check_input_gradient("GeLUTanh", shape, 2, |x| GeLUTanh.forward(x));
    check_input_gradient("SiLU", shape, 3, |x| SiLU.forward(x));
    check_input_gradient("LogSoftmax", shape, 4, |x| LogSoftmax.forward(x));
}

#[test]
fn gelu_values_are_the_erf_form() {
    let dev = Cpu::default();
    let x = dev.tensor([-1.0f64, 0.0, 0.5, 2.0]);
    let y = GeLU.forward(x).array();
    // 0.5 x (1 + erf(x / sqrt 2)), reference values from the normal CDF.
    let want = [
        -0.158_655_253_931_457_05,
        0.0,
        0.345_731_230_637_006_5,
        1.954_499_736_103_642,
    ];
    for (g, w) in y.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
}

#[test]
fn dropout_inference_is_identity() {
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(values(1000, 7), (10usize, 100usize));
    let d = Dropout::new(0.5);
    assert_eq!(d.forward(x.clone()).as_vec(), x.as_vec());
    // With a tape too (inference while tracing).
    assert_eq!(d.forward(x.leaky_trace()).as_vec(), x.as_vec());
}

#[test]
fn dropout_training_zeroes_about_p_and_rescales() {
    let dev = Cpu::seed_from_u64(42);
    for p in [0.2, 0.5, 0.8] {
        let x: Tensor<(usize, usize), f32, Cpu> = dev.ones_like(&(100usize, 200usize));
        let mut d = Dropout::new(p);
        let y = d.forward_mut(x.leaky_trace());
        let v = y.as_vec();
        let zeros = v.iter().filter(|&&a| a == 0.0).count() as f64 / v.len() as f64;
        assert!((zeros - p).abs() < 0.02, "p = {p}: zeroed fraction {zeros}");
        let scale = 1.0 / (1.0 - p) as f32;
        assert!(
            v.iter().all(|&a| a == 0.0 || (a - scale).abs() < 1e-5),
            "kept values must be scaled by 1/(1-p)"
        );
        // The gradient uses the same mask and scale.
        let g = y.sum().backward();
        assert_eq!(g.get(&x).as_vec(), v);
    }
    // p = 0: identity; p = 1: everything dropped.
    let x = dev.tensor_from_vec(values(50, 3), (50usize,));
    assert_eq!(
        Dropout::new(0.0).forward_mut(x.clone()).as_vec(),
        x.as_vec()
    );
    assert!(Dropout::new(1.0)
        .forward_mut(x.clone())
        .as_vec()
        .iter()
        .all(|&a| a == 0.0));
}

#[test]
fn dropout_masks_differ_between_calls() {
    let dev = Cpu::seed_from_u64(1);
    let x: Tensor<(usize,), f32, Cpu> = dev.ones_like(&(1000usize,));
    let mut d = Dropout::new(0.5);
    let a = d.forward_mut(x.clone()).as_vec();
    let b = d.forward_mut(x).as_vec();
    assert_ne!(a, b);
}

#[test]
fn batch_norm_inference_uses_running_statistics() {
    let dev = Cpu::default();
    let mut bn = <BatchNorm1d<2, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    bn.running_mean.copy_from(&[1.0, -2.0]);
    bn.running_var.copy_from(&[4.0, 0.25]);
    bn.scale.copy_from(&[2.0, 1.0]);
    bn.bias.copy_from(&[0.5, 0.0]);
    let x = dev.tensor_from_vec(vec![3.0, -2.0, 1.0, -1.0], (2usize, Const::<2>));
    let y = bn.forward(x.clone()).as_vec();
    let eps = 1e-5;
    let want = [
        (3.0 - 1.0) / (4.0f64 + eps).sqrt() * 2.0 + 0.5,
        0.0,
        0.5,
        (-1.0 + 2.0) / (0.25f64 + eps).sqrt(),
    ];
    for (g, w) in y.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{y:?} vs {want:?}");
    }
    // Inference leaves the running statistics alone.
    assert_eq!(bn.running_mean.as_vec(), vec![1.0, -2.0]);
    assert_eq!(bn.running_var.as_vec(), vec![4.0, 0.25]);

    // Training normalises with the batch instead and updates them.
    let y = bn.forward_mut(x).as_vec();
    // Batch of two per channel: normalised values are +-1 (up to eps) * scale + bias.
    assert!((y[0] - (2.0 + 0.5)).abs() < 1e-4 && (y[2] - (-2.0 + 0.5)).abs() < 1e-4);
    let rm = bn.running_mean.as_vec();
    assert!((rm[0] - (0.9 * 1.0 + 0.1 * 2.0)).abs() < 1e-12);
    // Unbiased variance of [3, 1] is 2.
    let rv = bn.running_var.as_vec();
    assert!((rv[0] - (0.9 * 4.0 + 0.1 * 2.0)).abs() < 1e-12);
}

#[test]
fn batch_norm_parameters_are_named_like_pytorch_and_running_stats_are_not_trainable() {
    use sxima_runtime::dfdx::nn::NumParams;
    let dev = Cpu::default();
    let bn = <BatchNorm2d<5, f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
    assert_eq!(bn.num_trainable_params(), 10);
    assert_eq!(bn.scale.as_vec(), vec![1.0; 5]);
    assert_eq!(bn.running_var.as_vec(), vec![1.0; 5]);
    let path = std::env::temp_dir().join(format!("sxima_bn_{}.safetensors", std::process::id()));
    use sxima_runtime::dfdx::nn::SaveToSafetensors;
    bn.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let text = String::from_utf8_lossy(&bytes);
    for name in [
        "\"weight\"",
        "\"bias\"",
        "\"running_mean\"",
        "\"running_var\"",
    ] {
        assert!(text.contains(name), "{name} missing in checkpoint header");
    }
}

#[test]
fn batch_norm_gradients_match_finite_differences() {
    let dev = Cpu::default();
    let mut bn1 = <BatchNorm1d<3, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    bn1.scale.copy_from(&[0.5, -1.5, 2.0]);
    bn1.bias.copy_from(&[0.1, 0.2, -0.3]);
    check_input_gradient("BatchNorm1d train (B, C)", (5usize, Const::<3>), 11, |x| {
        bn1.forward_mut(x)
    });
    check_input_gradient("BatchNorm1d eval (B, C)", (5usize, Const::<3>), 12, |x| {
        bn1.forward(x)
    });
    check_input_gradient(
        "BatchNorm1d train (B, C, L)",
        (4usize, Const::<3>, 3usize),
        13,
        |x| bn1.forward_mut(x),
    );
    let mut bn2 = <BatchNorm2d<2, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    bn2.scale.copy_from(&[1.5, -0.7]);
    check_input_gradient(
        "BatchNorm2d train",
        (3usize, Const::<2>, 3usize, 2usize),
        14,
        |x| bn2.forward_mut(x),
    );
    check_input_gradient(
        "BatchNorm2d eval",
        (3usize, Const::<2>, 3usize, 2usize),
        15,
        |x| bn2.forward(x),
    );
}
