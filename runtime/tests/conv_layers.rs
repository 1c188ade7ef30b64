//! The const-generic conv layers as a model uses them: PyTorch fixtures run
//! through `Conv2d` / `ConvTranspose2d` types written out by hand (weights
//! loaded from the file), PyTorch-style initialisation, parameter names and
//! counts, training-mode forward, and a `Cuda`-free device-generic call.

use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{Conv2d, Conv2dNoBias, ConvTranspose2d};
use sxima_runtime::Backend;
use sxima_testkit::{assert_close, load_fixture, Fixture};

const TOL: f64 = 1e-4;

/// Loads `weight`/`bias`, runs forward with the fixture's `grad_output` and
/// compares output and gradients.
macro_rules! check_layer_fixture {
    ($file:expr, $layer:ty, $in:ty, $out:ty) => {{
        let f: Fixture = load_fixture($file).expect("fixture");
        let dev: Cpu = Default::default();
        let mut layer = <$layer>::build(&dev);
        layer.weight.copy_from(&f.tensor("weight").data);
        layer.bias.copy_from(&f.tensor("bias").data);
        let x: Tensor<$in, f32, Cpu> =
            dev.tensor_from_vec(f.tensor("input").data.clone(), Default::default());
        let go: Tensor<$out, f32, Cpu> =
            dev.tensor_from_vec(f.tensor("grad_output").data.clone(), Default::default());
        // Leaky: keep the input's gradient too (alloc_grads keeps parameters only).
        let y: Tensor<$out, f32, Cpu, _> = layer.forward_mut(x.leaky_trace());
        assert_close(&f, "output", &y.as_vec(), TOL);
        let g = (y * go).sum::<Rank0, _>().backward();
        assert_close(&f, "grad_input", &g.get(&x).as_vec(), TOL);
        assert_close(&f, "grad_weight", &g.get(&layer.weight).as_vec(), TOL);
        assert_close(&f, "grad_bias", &g.get(&layer.bias).as_vec(), TOL);
    }};
}

#[test]
fn conv2d_layer_matches_pytorch_same_padding_even_kernel() {
    // k=4 'same': pad top/left 1, bottom/right 2.
    check_layer_fixture!(
        "conv2d_k4_s1_psame_d1_g1_9x8.json",
        Conv2d<4, 6, 4, 4, 1, 1, 1, 1, 1, 4, 1, 2, 1, 2, 9, 8, 9, 8, f32, Cpu>,
        Rank4<2, 4, 9, 8>,
        Rank4<2, 6, 9, 8>
    );
}

#[test]
fn conv2d_layer_matches_pytorch_grouped_dilated_strided() {
    check_layer_fixture!(
        "conv2d_k3_s3_p1_d2_g2_9x8.json",
        Conv2d<4, 6, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 9, 8, 3, 2, f32, Cpu>,
        Rank4<2, 4, 9, 8>,
        Rank4<2, 6, 3, 2>
    );
}

#[test]
fn conv_transpose2d_layer_matches_pytorch() {
    check_layer_fixture!(
        "conv_transpose2d_k3_s2_p1_op1.json",
        ConvTranspose2d<4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 4, 5, 8, 10, f32, Cpu>,
        Rank4<2, 4, 4, 5>,
        Rank4<2, 3, 8, 10>
    );
    check_layer_fixture!(
        "conv_transpose2d_k2_s2_p0_op0.json",
        ConvTranspose2d<4, 3, 2, 2, 2, 2, 0, 0, 0, 0, 4, 5, 8, 10, f32, Cpu>,
        Rank4<2, 4, 4, 5>,
        Rank4<2, 3, 8, 10>
    );
}

type Lecture1 = Conv2d<1, 32, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 28, 28, 24, 24, f32, Cpu>;

#[test]
fn init_is_pytorch_uniform_with_fan_in() {
    let dev = Cpu::seed_from_u64(0);
    // fan_in = CIG * KH * KW = 2 * 3 * 3 = 18 (groups 2).
    type G2 = Conv2d<4, 64, 3, 3, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 5, 5, 3, 3, f32, Cpu>;
    let c = G2::build(&dev);
    let bound = 1.0 / 18f32.sqrt();
    let w = c.weight.as_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(
        w.iter().any(|v| v.abs() > 0.9 * bound),
        "spread over the range"
    );
    assert!(c.bias.as_vec().iter().all(|v| v.abs() <= bound));
    // Transposed: fan_in = CO * KH * KW = 2 * 4 * 4 = 32.
    type T = ConvTranspose2d<8, 2, 4, 4, 2, 2, 1, 1, 0, 0, 3, 3, 6, 6, f32, Cpu>;
    let t = T::build(&dev);
    let bound = 1.0 / 32f32.sqrt();
    assert!(t.weight.as_vec().iter().all(|v| v.abs() <= bound));
    assert!(t.weight.as_vec().iter().any(|v| v.abs() > 0.9 * bound));
}

#[test]
fn parameters_are_named_and_counted_like_pytorch() {
    let dev: Cpu = Default::default();
    let c = Lecture1::build(&dev);
    assert_eq!(c.num_trainable_params(), 32 * 25 + 32);
    type Nb = Conv2dNoBias<4, 6, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 9, 8, 9, 8, f32, Cpu>;
    assert_eq!(Nb::build(&dev).num_trainable_params(), 6 * 2 * 9);
    // safetensors round trip uses the names `weight` and `bias`.
    let dir = std::env::temp_dir().join(format!("sxima-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conv.safetensors");
    c.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.contains("\"weight\"") && header.contains("\"bias\""),
        "{header}"
    );
    assert!(header.contains("[32,1,5,5]"), "{header}");
    let mut d = Lecture1::build(&dev);
    d.load_safetensors(&path).unwrap();
    assert_eq!(d.weight.as_vec(), c.weight.as_vec());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn forward_accepts_runtime_and_const_batch_and_training_mode() {
    let dev = Cpu::seed_from_u64(1);
    let mut c = Lecture1::build(&dev);
    let x: Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, _> =
        dev.sample_normal_like(&(3, Const, Const, Const));
    let y = c.forward(x.clone());
    assert_eq!(y.shape().0, 3);
    let y2 = c.forward_mut(x.clone());
    assert_eq!(y.as_vec(), y2.as_vec());
    // Batch of 1 equals the first sample of the batch.
    let x1: Tensor<Rank4<1, 1, 28, 28>, f32, _> =
        dev.tensor_from_vec(x.as_vec()[..784].to_vec(), Default::default());
    let y1 = c.forward(x1);
    assert_eq!(y1.as_vec(), y.as_vec()[..32 * 24 * 24].to_vec());
}

/// A device-generic caller (what `model!` emits) compiles against the layer's bounds.
fn generic_forward<E, D>(dev: &D) -> Vec<E>
where
    E: sxima_runtime::Elem,
    D: Backend<E>,
{
    type C<E, D> = Conv2d<2, 2, 3, 3, 2, 2, 1, 1, 2, 1, 1, 1, 1, 1, 5, 5, 3, 3, E, D>;
    let c = C::<E, D>::build(dev);
    let x = dev.ones_like(&(2usize, Const::<2>, Const::<5>, Const::<5>));
    let y = c.forward(x.leaky_trace());
    let v = y.as_vec();
    let _ = y.sum::<Rank0, _>().backward();
    v
}

#[test]
fn layer_is_device_generic() {
    let dev: Cpu = Default::default();
    assert_eq!(generic_forward::<f32, Cpu>(&dev).len(), 2 * 2 * 9);
    assert_eq!(generic_forward::<f64, Cpu>(&dev).len(), 2 * 2 * 9);
}

/// Type-checks the layers on `Cuda` (`cargo check --features cuda-check --tests`);
/// CI has no GPU, so this only proves the bounds hold for the CUDA device.
#[cfg(feature = "cuda")]
#[allow(dead_code)]
fn cuda_paths_type_check(dev: &Cuda) {
    let _ = generic_forward::<f32, Cuda>(dev);
    let _ = generic_forward::<f64, Cuda>(dev);
    type Up = ConvTranspose2d<4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 4, 5, 8, 10, f32, Cuda>;
    let up = Up::build(dev);
    let x: Tensor<Rank4<2, 4, 4, 5>, f32, Cuda> = dev.zeros();
    let _: Tensor<Rank4<2, 3, 8, 10>, f32, Cuda, _> = up.forward(x.leaky_trace());
}
