//! ResNet-18 written with `model!` (block template, `residual` with the
//! automatic projection shortcut, `repeat`, groups; the zoo's definition,
//! `zoo/resnet18/src/lib.rs`): torchvision's parameter count as the compile-time
//! constant, torchvision's parameter names from the dfdx visitor, and a
//! batch-1 forward at 224x224.

use sxima::__private::dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use sxima::__private::dfdx::prelude::*;
use sxima::prelude::*;
use sxima::zoo::ResNet18;

/// torchvision's `resnet18().num_params`, on the compile-time constant.
const _: () = assert!(<ResNet18 as ModelInfo>::PARAM_COUNT == 11_689_512);

/// Collects `(name, shape)` of every tensor the dfdx visitor reaches.
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

/// torchvision's `resnet18().state_dict()` keys in order, written from its
/// definition (`torchvision/models/resnet.py`), without the batch-norm
/// `num_batches_tracked` counters (sxima's BatchNorm2d keeps no counter).
fn torchvision_resnet18_keys() -> Vec<String> {
    let bn = |p: &str| {
        ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .map(|t| format!("{p}.{t}"))
            .collect::<Vec<_>>()
    };
    let mut keys = vec!["conv1.weight".to_string()];
    keys.extend(bn("bn1"));
    for layer in 1..=4 {
        for block in 0..2 {
            let p = format!("layer{layer}.{block}");
            keys.push(format!("{p}.conv1.weight"));
            keys.extend(bn(&format!("{p}.bn1")));
            keys.push(format!("{p}.conv2.weight"));
            keys.extend(bn(&format!("{p}.bn2")));
            if layer > 1 && block == 0 {
                keys.push(format!("{p}.downsample.0.weight"));
                keys.extend(bn(&format!("{p}.downsample.1")));
            }
        }
    }
    keys.push("fc.weight".into());
    keys.push("fc.bias".into());
    keys
}

#[test]
fn parameter_names_and_shapes_are_torchvisions() {
    let dev = Cpu::seed_from_u64(0);
    let model = ResNet18::<f32, Cpu>::build(&dev);
    let found = names_of(&model);
    let names: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, torchvision_resnet18_keys());
    let shape = |n: &str| {
        found
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    assert_eq!(shape("conv1.weight"), vec![64, 3, 7, 7]);
    assert_eq!(shape("layer1.0.conv1.weight"), vec![64, 64, 3, 3]);
    assert_eq!(shape("layer2.0.conv1.weight"), vec![128, 64, 3, 3]);
    assert_eq!(shape("layer2.0.downsample.0.weight"), vec![128, 64, 1, 1]);
    assert_eq!(shape("layer4.0.downsample.1.running_mean"), vec![512]);
    assert_eq!(shape("fc.weight"), vec![1000, 512]);
    // Trainable parameters (not the running statistics) add up to the constant.
    let trainable: usize = found
        .iter()
        .filter(|(n, _)| !n.contains("running_"))
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    assert_eq!(trainable, <ResNet18 as ModelInfo>::PARAM_COUNT);
}

#[test]
fn forward_at_224_gives_1000_logits() {
    let dev = Cpu::seed_from_u64(1);
    let model = ResNet18::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank4<1, 3, 224, 224>, f32, Cpu> = dev.sample_normal();
    let y = model.forward(x);
    assert_eq!(y.shape().concrete(), [1, 1000]);
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    assert_eq!(<ResNet18 as ModelInfo>::OUTPUT_SHAPE, &[1000]);
    let top: Vec<&str> = <ResNet18 as ModelInfo>::LAYERS
        .iter()
        .map(|l| l.name)
        .collect();
    assert!(top.contains(&"layer3") && top.contains(&"fc"), "{top:?}");
}
