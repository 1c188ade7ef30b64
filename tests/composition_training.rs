//! A tiny network with every composite node (`repeat` of a residual block,
//! a projection shortcut, `parallel(concat)`, a squeeze-and-excitation
//! `parallel(mul)`) trains on random data through the device-generic path:
//! the loss goes down and every trainable tensor, in every branch and
//! shortcut, is updated.

use sxima::__private::dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use sxima::__private::dfdx::optim::{Adam, AdamConfig, Optimizer};
use sxima::__private::dfdx::prelude::*;
use sxima::prelude::*;

model! {
    /// A residual block that keeps the shape (identity shortcut).
    block Res(c) {
        residual {
            conv1: Conv2d(c, kernel = 3, padding = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(c, kernel = 3, padding = 1),
        },
        ReLU,
    }

    /// Every composite node once.
    pub Tiny(input: [2, 8, 8]) {
        stem: Conv2d(8, kernel = 3, padding = 1),
        ReLU,
        blocks: repeat 2 { Res(8) },
        down: residual { Conv2d(8 * 2, kernel = 3, stride = 2, padding = 1), BatchNorm2d } -> [16, 4, 4],
        mix: parallel(concat) {
            a { Conv2d(4, kernel = 1) }
            b { Conv2d(4, kernel = 3, padding = 1), ReLU }
        } -> [8, 4, 4],
        se: parallel(mul) {
            x { }
            gate { GlobalAvgPool, Dense(8), Sigmoid }
        },
        GlobalAvgPool,
        fc: Dense(3),
    }
}

/// Every tensor's name and values.
struct Values(Vec<(String, Vec<f32>)>);

impl<D: Device<f32>> TensorVisitor<f32, D> for Values {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = std::convert::Infallible;
    type E2 = f32;
    type D2 = D;
    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, D>,
        (t, name): (&Tensor<S, f32, D>, String),
    ) -> Result<Option<Tensor<S, f32, D>>, Self::Err> {
        self.0.push((name, t.as_vec()));
        Ok(None)
    }
}

fn values<D: Device<f32>, M: TensorCollection<f32, D>>(m: &M) -> Vec<(String, Vec<f32>)> {
    let mut v = Values(Vec::new());
    let walked = M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut v,
    });
    assert!(walked.is_ok());
    v.0
}

/// Trains `steps` Adam steps on one fixed random batch; returns the losses
/// and the tensors before and after.
#[allow(clippy::type_complexity)]
fn train<D: Backend<f32> + SampleTensor<f32>>(
    dev: D,
    steps: usize,
) -> (Vec<f32>, Vec<(String, Vec<f32>)>, Vec<(String, Vec<f32>)>) {
    let mut model = Tiny::<f32, D>::build(&dev);
    let before = values(&model);
    let x: Tensor<Rank4<16, 2, 8, 8>, f32, D> = dev.sample_normal();
    let labels: Vec<f32> = (0..16 * 3)
        .map(|i| if i % 3 == (i / 3 * 7) % 3 { 1.0 } else { 0.0 })
        .collect();
    let y: Tensor<Rank2<16, 3>, f32, D> = dev.tensor(labels);
    let mut opt = Adam::new(
        &model,
        AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
    );
    let mut grads = model.alloc_grads();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let logits = model.forward_mut(x.trace(grads));
        let loss = cross_entropy_with_logits_loss(logits, y.clone());
        losses.push(loss.as_vec()[0]);
        grads = loss.backward();
        opt.update(&mut model, &grads)
            .expect("every parameter is used");
        model.zero_grads(&mut grads);
    }
    (losses, before, values(&model))
}

#[test]
fn tiny_composite_net_trains() {
    check_training(Cpu::seed_from_u64(7));
}

/// The same on the CUDA device: type-checked by `--features cuda-check`,
/// run with `--features cuda -- --ignored` where a GPU is.
#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs a GPU"]
fn tiny_composite_net_trains_on_cuda() {
    check_training(Cuda::seed_from_u64(7));
}

fn check_training<D: Backend<f32> + SampleTensor<f32>>(dev: D) {
    let (losses, before, after) = train(dev, 40);
    let first = losses[0];
    let last = *losses.last().unwrap_or(&f32::NAN);
    assert!(last.is_finite() && last < 0.5 * first, "{losses:?}");
    // Every trainable tensor moved: gradients reach the shortcut's projection,
    // both concatenated branches and the gate.
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    for must in [
        "blocks.1.conv1.weight",
        "down.downsample.0.weight",
        "down.downsample.1.weight",
        "mix.a.conv2d_1.weight",
        "mix.b.conv2d_1.weight",
        "se.gate.dense_1.weight",
    ] {
        assert!(names.contains(&must), "{must} not in {names:?}");
    }
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        if name.contains("running_") {
            continue;
        }
        assert!(b != a, "{name} did not change");
    }
}
