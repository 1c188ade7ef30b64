//! The model zoo, part 2 (`sxima::zoo`): GoogLeNet, DenseNet-121 and
//! EfficientNet-B0. Each parameter count is torchvision's `num_params`
//! (asserted on the compile-time constant), the multiply-accumulates are
//! within 5% of torchvision's published GFLOPS (`_ops` in
//! `torchvision/models/{googlenet,densenet,efficientnet}.py`, which counts
//! multiply-adds), a batch-1 forward at the full 224x224 input (the models
//! are declared at that size) gives `[1, 1000]` finite logits, the
//! parameter names are torchvision's state-dict keys, and DenseNet-121
//! trains: the loss of a few steps on random data goes down.

use sxima::__private::dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use sxima::prelude::*;
use sxima::zoo::{DenseNet121, EfficientNetB0, GoogLeNet};

// torchvision 0.2x `num_params` (the `_meta` of each weights enum).
const _: () = assert!(<GoogLeNet as ModelInfo>::PARAM_COUNT == 6_624_904);
const _: () = assert!(<DenseNet121 as ModelInfo>::PARAM_COUNT == 7_978_856);
const _: () = assert!(<EfficientNetB0 as ModelInfo>::PARAM_COUNT == 5_288_548);

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
    assert_macs::<GoogLeNet>(1.498);
    assert_macs::<DenseNet121>(2.834);
    assert_macs::<EfficientNetB0>(0.386);
}

/// Collects the name and shape of every tensor the dfdx visitor reaches.
struct Names(Vec<(String, Vec<usize>)>);

impl TensorVisitor<f32, Cpu> for Names {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = std::convert::Infallible;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, Cpu>,
        (t, name): (&Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        self.0
            .push((name, t.shape().concrete().into_iter().collect()));
        Ok(None)
    }
}

fn names_of<M: TensorCollection<f32, Cpu>>(m: &M) -> Vec<(String, Vec<usize>)> {
    let mut names = Names(Vec::new());
    let walked = M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut names,
    });
    assert!(walked.is_ok());
    names.0
}

/// The shape of tensor `name`, or a panic listing a few names.
fn shape_of(names: &[(String, Vec<usize>)], name: &str) -> Vec<usize> {
    match names.iter().find(|(n, _)| n == name) {
        Some((_, s)) => s.clone(),
        None => panic!(
            "no tensor {name}; first names: {:?}",
            names.iter().take(8).map(|(n, _)| n).collect::<Vec<_>>()
        ),
    }
}

/// torchvision's state-dict keys (written from the definitions in
/// `torchvision/models/*.py`), with their shapes, and the tensor counts of
/// the exported state dicts without `num_batches_tracked` (googlenet 287,
/// densenet121 606, efficientnet_b0 311, printed by
/// `shared/torch/export_torchvision.py`).
#[test]
fn parameter_names_are_torchvisions() {
    let dev = Cpu::seed_from_u64(0);
    let g = names_of(&GoogLeNet::<f32, Cpu>::build(&dev));
    assert_eq!(g.len(), 287);
    assert_eq!(shape_of(&g, "conv1.conv.weight"), [64, 3, 7, 7]);
    assert_eq!(shape_of(&g, "conv1.bn.running_var"), [64]);
    assert_eq!(
        shape_of(&g, "inception3a.branch1.conv.weight"),
        [64, 192, 1, 1]
    );
    assert_eq!(
        shape_of(&g, "inception3a.branch2.1.conv.weight"),
        [128, 96, 3, 3]
    );
    assert_eq!(shape_of(&g, "inception4e.branch3.1.bn.weight"), [128]);
    assert_eq!(
        shape_of(&g, "inception5b.branch4.1.conv.weight"),
        [128, 832, 1, 1]
    );
    assert_eq!(shape_of(&g, "fc.weight"), [1000, 1024]);

    let d = names_of(&DenseNet121::<f32, Cpu>::build(&dev));
    assert_eq!(d.len(), 606);
    assert_eq!(shape_of(&d, "features.conv0.weight"), [64, 3, 7, 7]);
    assert_eq!(
        shape_of(&d, "features.denseblock1.denselayer1.conv1.weight"),
        [128, 64, 1, 1]
    );
    assert_eq!(
        shape_of(&d, "features.denseblock3.denselayer24.norm1.running_mean"),
        [256 + 23 * 32]
    );
    assert_eq!(
        shape_of(&d, "features.denseblock4.denselayer16.conv2.weight"),
        [32, 128, 3, 3]
    );
    assert_eq!(
        shape_of(&d, "features.transition3.conv.weight"),
        [512, 1024, 1, 1]
    );
    assert_eq!(shape_of(&d, "features.norm5.weight"), [1024]);
    assert_eq!(shape_of(&d, "classifier.weight"), [1000, 1024]);

    let e = names_of(&EfficientNetB0::<f32, Cpu>::build(&dev));
    assert_eq!(e.len(), 311);
    assert_eq!(shape_of(&e, "features.0.0.weight"), [32, 3, 3, 3]);
    assert_eq!(shape_of(&e, "features.1.0.block.0.0.weight"), [32, 1, 3, 3]);
    assert_eq!(
        shape_of(&e, "features.1.0.block.1.fc1.weight"),
        [8, 32, 1, 1]
    );
    assert_eq!(shape_of(&e, "features.2.1.block.2.fc2.bias"), [144]);
    assert_eq!(
        shape_of(&e, "features.6.3.block.1.0.weight"),
        [1152, 1, 5, 5]
    );
    assert_eq!(shape_of(&e, "features.7.0.block.3.1.running_var"), [320]);
    assert_eq!(shape_of(&e, "features.8.0.weight"), [1280, 320, 1, 1]);
    assert_eq!(shape_of(&e, "classifier.1.weight"), [1000, 1280]);
}

/// A batch-1 inference forward of random input at 224x224: `[1, 1000]`
/// finite logits.
fn forward_shape<M: Model<f32, Cpu>>() {
    assert_eq!(M::OUTPUT_SHAPE, [1000]);
    let dev = Cpu::seed_from_u64(3);
    let model = M::build(&dev);
    let x = dev.sample_normal_like(&M::input_shape(1usize));
    let y = model.try_forward(x).expect("forward");
    let shape: Vec<usize> = y.shape().concrete().into_iter().collect();
    assert_eq!(shape, [1, 1000], "{}", M::NAME);
    assert!(y.as_vec().iter().all(|v| v.is_finite()), "{}", M::NAME);
}

#[test]
fn googlenet_forward() {
    forward_shape::<GoogLeNet>();
}

#[test]
fn densenet121_forward() {
    forward_shape::<DenseNet121>();
}

#[test]
fn efficientnet_b0_forward() {
    forward_shape::<EfficientNetB0>();
}

/// DenseNet-121 at 224x224 fits two random images for two Adam steps
/// (training forward: batch statistics, 58 concatenations, backward through
/// every dense layer): the loss goes down.
#[test]
fn densenet121_trains_on_random_data() {
    let dev = Cpu::seed_from_u64(5);
    let n = 2;
    let len: usize = <DenseNet121 as ModelInfo>::INPUT_SHAPE.iter().product();
    let noise = dev.sample_normal_like(&(n * len,)).as_vec();
    let data = Dataset::with_classes(noise, &[3, 224, 224], vec![3, 7]).expect("finite data");
    let mut model = DenseNet121::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })
    .expect("valid config");
    let epochs = 2;
    let config = FitConfig::new().epochs(epochs).batch_size(n).silent();
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
    assert_eq!(losses.len(), epochs);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[epochs - 1] < losses[0], "{losses:?}");
}

/// The f32 tensor `key` of a safetensors file.
fn read_f32(path: &std::path::Path, key: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = ::safetensors::SafeTensors::deserialize(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let t = file
        .tensor(key)
        .unwrap_or_else(|e| panic!("{}: {key}: {e:?}", path.display()));
    assert_eq!(t.dtype(), ::safetensors::Dtype::F32, "{key}");
    t.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Loads `DIR/<name>.safetensors` by name, runs `DIR/<name>_io.safetensors`'s
/// `input` and returns `max |ours - torch| / max |torch|` over the logits.
fn torchvision_diff<M: Model<f32, Cpu>>(dir: &std::path::Path, name: &str) -> f64 {
    let dev = Cpu::default();
    let model = M::load_state_dict(dir.join(format!("{name}.safetensors")), &dev)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let io = dir.join(format!("{name}_io.safetensors"));
    let x = dev.tensor_from_vec(read_f32(&io, "input"), M::input_shape(1usize));
    let want = read_f32(&io, "output");
    let got = model.try_forward(x).expect("forward").as_vec();
    assert_eq!(got.len(), want.len(), "{name}");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs() as f64));
    let diff = got
        .iter()
        .zip(&want)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs() as f64));
    diff / scale
}

/// Against torchvision's eval-mode logits, with the files of
/// `shared/torch/export_torchvision.py {googlenet,densenet121,efficientnet_b0}
/// DIR` (not in the repository): `SXIMA_TORCHVISION_DIR=DIR cargo test
/// --features zoo --test zoo_part2 -- --ignored --nocapture`. `examples/zoo.rs
/// --check DIR` does the same for every architecture.
#[test]
#[ignore = "needs SXIMA_TORCHVISION_DIR with torchvision exports"]
fn outputs_match_torchvision() {
    let Some(dir) = std::env::var_os("SXIMA_TORCHVISION_DIR") else {
        panic!("set SXIMA_TORCHVISION_DIR to the folder of export_torchvision.py's files");
    };
    let dir = std::path::PathBuf::from(dir);
    let diffs = [
        (
            "googlenet",
            torchvision_diff::<GoogLeNet>(&dir, "googlenet"),
        ),
        (
            "densenet121",
            torchvision_diff::<DenseNet121>(&dir, "densenet121"),
        ),
        (
            "efficientnet_b0",
            torchvision_diff::<EfficientNetB0>(&dir, "efficientnet_b0"),
        ),
    ];
    for (name, d) in diffs {
        println!("{name}: max relative difference {d:.2e}");
    }
    for (name, d) in diffs {
        assert!(d <= 1e-4, "{name}: {d:.2e}");
    }
}
