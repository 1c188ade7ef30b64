//! The layers composed the way `model!` composes them: a small CNN-like
//! stack with batch norm, pooling, dropout and dense layers, trained for a
//! few SGD steps (loss falls, running statistics move, dropout only in
//! training), and run in inference with any batch size.

use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut, ZeroGrads};
use sxima_runtime::dfdx::optim::{Optimizer, Sgd, SgdConfig};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{
    BatchNorm2d, Dense, Dropout, Flatten, GlobalAvgPool, MaxPool2d, ReLU, UpSampling2d,
};
use sxima_runtime::{Backend, Elem};

/// `[2, 8, 8] -> BN -> ReLU -> MaxPool 2 -> UpSampling 2 -> MaxPool 2 -> Flatten -> Dropout -> Dense(3)`,
/// plus a global-average head summed in.
#[derive(Debug, Clone)]
struct Net<E: Dtype, D: Storage<E>> {
    bn: BatchNorm2d<2, E, D>,
    relu: ReLU,
    pool: MaxPool2d<2, 2, 2, 2, 0, 0, 0, 0, 8, 8, 4, 4>,
    up: UpSampling2d<2, 2, 4, 4, 8, 8>,
    pool2: MaxPool2d<2, 2, 2, 2, 0, 0, 0, 0, 8, 8, 4, 4>,
    flatten: Flatten<32>,
    drop: Dropout,
    fc: Dense<32, 3, E, D>,
    gap: GlobalAvgPool,
    head: Dense<2, 3, E, D>,
}

impl<E: Elem, D: Backend<E>> TensorCollection<E, D> for Net<E, D> {
    type To<E2: Dtype, D2: Device<E2>> = Net<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("bn", |s| &s.bn, |s| &mut s.bn),
                Self::module("fc", |s| &s.fc, |s| &mut s.fc),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(bn, fc, head)| Net {
                bn,
                relu: Default::default(),
                pool: MaxPool2d::new(),
                up: UpSampling2d::new(),
                pool2: MaxPool2d::new(),
                flatten: Flatten::new(),
                drop: Dropout::new(0.25),
                fc,
                gap: Default::default(),
                head,
            },
        )
    }
}

type In<B> = (B, Const<2>, Const<8>, Const<8>);

impl<B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>> Module<Tensor<In<B>, E, D, T>> for Net<E, D> {
    type Output = Tensor<(B, Const<3>), E, D, T>;
    type Error = D::Err;
    fn try_forward(&self, x: Tensor<In<B>, E, D, T>) -> Result<Self::Output, D::Err> {
        let x = self.bn.try_forward(x)?;
        let x = self.relu.try_forward(x)?;
        let side = self
            .head
            .try_forward(self.gap.try_forward(x.retaped::<T>())?)?;
        let x = self.pool.try_forward(x)?;
        let x = self.up.try_forward(x)?;
        let x = self.pool2.try_forward(x)?;
        let x = self.flatten.try_forward(x)?;
        let x = Module::try_forward(&self.drop, x)?;
        self.fc.try_forward(x)?.try_add(side)
    }
}

impl<B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>> ModuleMut<Tensor<In<B>, E, D, T>>
    for Net<E, D>
{
    type Output = Tensor<(B, Const<3>), E, D, T>;
    type Error = D::Err;
    fn try_forward_mut(&mut self, x: Tensor<In<B>, E, D, T>) -> Result<Self::Output, D::Err> {
        let x = self.bn.try_forward_mut(x)?;
        let x = self.relu.try_forward_mut(x)?;
        let side = self
            .head
            .try_forward_mut(self.gap.try_forward_mut(x.retaped::<T>())?)?;
        let x = self.pool.try_forward_mut(x)?;
        let x = self.up.try_forward_mut(x)?;
        let x = self.pool2.try_forward_mut(x)?;
        let x = self.flatten.try_forward_mut(x)?;
        let x = self.drop.try_forward_mut(x)?;
        self.fc.try_forward_mut(x)?.try_add(side)
    }
}

#[test]
fn small_network_trains_and_infers() {
    let dev = Cpu::seed_from_u64(3);
    let mut net = <Net<f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
    assert_eq!(net.drop.p, 0.25);
    let x: Tensor<In<usize>, f32, Cpu> = dev.sample_normal_like(&(16, Const, Const, Const));
    let x = x * 2.0 + 1.0;
    let target: Tensor<(usize, Const<3>), f32, Cpu> = dev.sample_normal_like(&(16, Const));

    // Inference: deterministic, any batch size, running stats untouched.
    let a = net.forward(x.clone()).as_vec();
    assert_eq!(a, net.forward(x.clone()).as_vec());
    let one: Tensor<In<Const<1>>, f32, Cpu> = dev.sample_normal();
    let _: Tensor<(Const<1>, Const<3>), f32, Cpu> = net.forward(one);
    assert_eq!(net.bn.running_mean.as_vec(), vec![0.0; 2]);

    let mut opt = Sgd::new(
        &net,
        SgdConfig {
            lr: 0.05,
            momentum: None,
            weight_decay: None,
        },
    );
    let mut grads = net.alloc_grads();
    let mut losses = Vec::new();
    for _ in 0..40 {
        let y = net.forward_mut(x.trace(grads));
        let loss = (y - target.clone()).square().mean();
        losses.push(loss.array());
        grads = loss.backward();
        opt.update(&mut net, &grads).expect("all parameters used");
        net.zero_grads(&mut grads);
    }
    // Running mean moved towards the batch mean (~1) and running stats are not trained.
    let rm = net.bn.running_mean.as_vec();
    assert!(rm.iter().all(|&m| m > 0.5), "{rm:?}");
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[35..].iter().sum::<f32>() / 5.0;
    assert!(last < first * 0.8, "loss did not fall: {first} -> {last}");
}
