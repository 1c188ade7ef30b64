//! The model zoo (`sxima::zoo`): each architecture's parameter count is
//! torchvision's `num_params` (asserted on the compile-time constant), its
//! multiply-accumulates are within 5% of torchvision's published GFLOPS
//! (`_ops` in `torchvision/models/*.py`, which counts multiply-adds), a
//! batch-1 forward at the full input size gives the declared output, and
//! ResNet-18 trains: the loss of a few steps on random data goes down.

use sxima::prelude::*;
use sxima::zoo::{AlexNet, LeNet5, ResNeXt50_32x4d, ResNet18, ResNet50, Vgg16, ZfNet};

// torchvision's `num_params` (`_meta` of each weights enum); LeNet-5 from
// `lenet5()` of `shared/torch/export_torchvision.py`; ZFNet from its
// definition (the paper's layers, see `sxima::zoo::ZfNet`).
const _: () = assert!(<LeNet5 as ModelInfo>::PARAM_COUNT == 61_706);
const _: () = assert!(<AlexNet as ModelInfo>::PARAM_COUNT == 61_100_840);
const _: () = assert!(<ZfNet as ModelInfo>::PARAM_COUNT == 62_357_608);
const _: () = assert!(<Vgg16 as ModelInfo>::PARAM_COUNT == 138_357_544);
const _: () = assert!(<ResNet18 as ModelInfo>::PARAM_COUNT == 11_689_512);
const _: () = assert!(<ResNet50 as ModelInfo>::PARAM_COUNT == 25_557_032);
const _: () = assert!(<ResNeXt50_32x4d as ModelInfo>::PARAM_COUNT == 25_028_904);

/// `MACS` within 5% of torchvision's GFLOPS figure (`_ops`, in GMACs).
fn assert_macs<M: ModelInfo>(torchvision_gmacs: f64) {
    let ours = M::MACS as f64 / 1e9;
    let rel = (ours - torchvision_gmacs).abs() / torchvision_gmacs;
    assert!(
        rel <= 0.05,
        "{}: {ours:.3} GMACs, torchvision {torchvision_gmacs} ({:.1}% off)",
        M::NAME,
        rel * 100.0
    );
}

#[test]
fn macs_match_torchvisions_published_figures() {
    assert_macs::<AlexNet>(0.714);
    assert_macs::<Vgg16>(15.47);
    assert_macs::<ResNet18>(1.814);
    assert_macs::<ResNet50>(4.089);
    assert_macs::<ResNeXt50_32x4d>(4.23);
}

#[test]
fn lenet5_macs_are_its_products() {
    // Two convs (out channels x in channels x 5x5 x output pixels), three dense.
    let conv = 6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10;
    let dense = 400 * 120 + 120 * 84 + 84 * 10;
    assert_eq!(<LeNet5 as ModelInfo>::MACS, conv + dense);
}

/// A batch-1 inference forward of random input: the output has the model's
/// declared shape and finite values.
fn forward_shape<M: Model<f32, Cpu>>(output: &[usize]) {
    assert_eq!(M::OUTPUT_SHAPE, output);
    let dev = Cpu::seed_from_u64(3);
    let model = M::build(&dev);
    let x = dev.sample_normal_like(&M::input_shape(1usize));
    let y = model.try_forward(x).expect("forward");
    let shape: Vec<usize> = y.shape().concrete().into_iter().collect();
    let mut want = vec![1];
    want.extend_from_slice(output);
    assert_eq!(shape, want, "{}", M::NAME);
    assert!(y.as_vec().iter().all(|v| v.is_finite()), "{}", M::NAME);
}

#[test]
fn lenet5_forward() {
    forward_shape::<LeNet5>(&[10]);
}

#[test]
fn alexnet_forward() {
    forward_shape::<AlexNet>(&[1000]);
}

#[test]
fn zfnet_forward() {
    forward_shape::<ZfNet>(&[1000]);
}

#[test]
fn vgg16_forward() {
    forward_shape::<Vgg16>(&[1000]);
}

#[test]
fn resnet18_forward() {
    forward_shape::<ResNet18>(&[1000]);
}

#[test]
fn resnet50_forward() {
    forward_shape::<ResNet50>(&[1000]);
}

#[test]
fn resnext50_forward() {
    forward_shape::<ResNeXt50_32x4d>(&[1000]);
}

/// ResNet-18 at 224x224 fits two random images for a few Adam steps
/// (training forward: batch statistics, projection shortcuts, backward
/// through every block): the loss goes down.
#[test]
fn resnet18_trains_on_random_data() {
    let dev = Cpu::seed_from_u64(5);
    let n = 2;
    let len: usize = <ResNet18 as ModelInfo>::INPUT_SHAPE.iter().product();
    let noise = dev.sample_normal_like(&(n * len,)).as_vec();
    let data = Dataset::with_classes(noise, &[3, 224, 224], vec![3, 7]).expect("finite data");
    let mut model = ResNet18::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })
    .expect("valid config");
    let config = FitConfig::new().epochs(4).batch_size(n).silent();
    let history = fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        &data,
        config,
        &mut [],
    )
    .expect("trains");
    let losses: Vec<f32> = history.epochs.iter().map(|e| e.loss as f32).collect();
    assert_eq!(losses.len(), 4);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[3] < losses[0], "{losses:?}");
}
