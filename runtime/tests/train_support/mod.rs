//! Test-only fixtures shared by the `train_*` tests: small hand-written models
//! in the shape `model!` generates (see tests/hand_expanded.rs), a plain-SGD
//! optimizer over dfdx's `Sgd`, MSE and sparse cross-entropy losses, and a
//! synthetic two-blob dataset. Clearly test-only: the real losses and
//! optimizers live in `sxima_runtime::{loss, optim}`.
#![allow(dead_code)]

use dfdx::nn::modules::*;
use dfdx::prelude::*;
use sxima_runtime::data::Dataset;
use sxima_runtime::error::{DeviceResultExt, Result};
#[allow(unused_imports)]
pub use sxima_runtime::loss::{Mse, SparseCrossEntropy};
use sxima_runtime::optim::{Sgd, SgdConfig};
use sxima_runtime::{layers, model::*, Backend, Elem};

/// A two-layer classifier `[2] -> 16 -> [2]` (or `[H]` hidden via const).
#[derive(Debug, Clone)]
pub struct Blob<const H: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    pub fc1: layers::Dense<2, H, E, D>,
    pub relu: layers::ReLU,
    pub fc2: layers::Dense<H, 2, E, D>,
}

impl<const H: usize, E: Elem, D: Backend<E>> TensorCollection<E, D> for Blob<H, E, D> {
    type To<E2: Dtype, D2: Device<E2>> = Blob<H, E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("fc1", |s| &s.fc1, |s| &mut s.fc1),
                Self::module("fc2", |s| &s.fc2, |s| &mut s.fc2),
            ),
            |(fc1, fc2)| Blob {
                fc1,
                relu: Default::default(),
                fc2,
            },
        )
    }
}

impl<const H: usize, B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(B, Const<2>), E, D, T>> for Blob<H, E, D>
{
    type Output = Tensor<(B, Const<2>), E, D, T>;
    type Error = D::Err;
    fn try_forward(&self, x: Tensor<(B, Const<2>), E, D, T>) -> Result<Self::Output, D::Err> {
        let x: Tensor<(B, Const<H>), E, D, T> = Module::try_forward(&self.fc1, x)?;
        let x = Module::try_forward(&self.relu, x)?;
        Module::try_forward(&self.fc2, x)
    }
}

impl<const H: usize, B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    ModuleMut<Tensor<(B, Const<2>), E, D, T>> for Blob<H, E, D>
{
    type Output = Tensor<(B, Const<2>), E, D, T>;
    type Error = D::Err;
    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<2>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        let x: Tensor<(B, Const<H>), E, D, T> = ModuleMut::try_forward_mut(&mut self.fc1, x)?;
        let x = ModuleMut::try_forward_mut(&mut self.relu, x)?;
        ModuleMut::try_forward_mut(&mut self.fc2, x)
    }
}

impl<const H: usize, E: Elem, D: Backend<E>> ModelInfo for Blob<H, E, D> {
    const NAME: &'static str = "Blob";
    const INPUT_SHAPE: &'static [usize] = &[2];
    const OUTPUT_SHAPE: &'static [usize] = &[2];
    const PARAM_COUNT: usize = 2 * H + H + H * 2 + 2;
    const MACS: u64 = 2 * H as u64 + H as u64 * 2;
    const LAYERS: &'static [LayerSummary] = &[];
}

impl<const H: usize, E: Elem, D: Backend<E>> Model<E, D> for Blob<H, E, D> {
    type Input<B: Dim> = (B, Const<2>);
    type Output<B: Dim> = (B, Const<2>);
    fn input_shape<B: Dim>(batch: B) -> Self::Input<B> {
        (batch, Const)
    }
    fn output_shape<B: Dim>(batch: B) -> Self::Output<B> {
        (batch, Const)
    }
    fn try_forward<B: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        Module::try_forward(self, x).dev()
    }
    fn try_forward_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        ModuleMut::try_forward_mut(self, x).dev()
    }
}

/// The hand-expanded MNIST MLP of tests/hand_expanded.rs (784 -> 32 -> 10).
#[derive(Debug, Clone)]
pub struct Mlp<E: Dtype = f32, D: Storage<E> = Cpu> {
    pub flatten: layers::Flatten<784>,
    pub fc1: layers::Dense<784, 32, E, D>,
    pub relu: layers::ReLU,
    pub fc2: layers::Dense<32, 10, E, D>,
}

impl<E: Elem, D: Backend<E>> TensorCollection<E, D> for Mlp<E, D> {
    type To<E2: Dtype, D2: Device<E2>> = Mlp<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("fc1", |s| &s.fc1, |s| &mut s.fc1),
                Self::module("fc2", |s| &s.fc2, |s| &mut s.fc2),
            ),
            |(fc1, fc2)| Mlp {
                flatten: layers::Flatten::new(),
                fc1,
                relu: Default::default(),
                fc2,
            },
        )
    }
}

impl<B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    Module<Tensor<(B, Const<1>, Const<28>, Const<28>), E, D, T>> for Mlp<E, D>
{
    type Output = Tensor<(B, Const<10>), E, D, T>;
    type Error = D::Err;
    fn try_forward(
        &self,
        x: Tensor<(B, Const<1>, Const<28>, Const<28>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        let x: Tensor<(B, Const<784>), E, D, T> = Module::try_forward(&self.flatten, x)?;
        let x: Tensor<(B, Const<32>), E, D, T> = Module::try_forward(&self.fc1, x)?;
        let x = Module::try_forward(&self.relu, x)?;
        Module::try_forward(&self.fc2, x)
    }
}

impl<B: Dim, E: Elem, D: Backend<E>, T: Tape<E, D>>
    ModuleMut<Tensor<(B, Const<1>, Const<28>, Const<28>), E, D, T>> for Mlp<E, D>
{
    type Output = Tensor<(B, Const<10>), E, D, T>;
    type Error = D::Err;
    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<1>, Const<28>, Const<28>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        let x: Tensor<(B, Const<784>), E, D, T> = ModuleMut::try_forward_mut(&mut self.flatten, x)?;
        let x: Tensor<(B, Const<32>), E, D, T> = ModuleMut::try_forward_mut(&mut self.fc1, x)?;
        let x = ModuleMut::try_forward_mut(&mut self.relu, x)?;
        ModuleMut::try_forward_mut(&mut self.fc2, x)
    }
}

impl<E: Elem, D: Backend<E>> ModelInfo for Mlp<E, D> {
    const NAME: &'static str = "Mlp";
    const INPUT_SHAPE: &'static [usize] = &[1, 28, 28];
    const OUTPUT_SHAPE: &'static [usize] = &[10];
    const MACS: u64 = 784 * 32 + 32 * 10;
    const PARAM_COUNT: usize = 784 * 32 + 32 + 32 * 10 + 10;
    const LAYERS: &'static [LayerSummary] = &[];
}

impl<E: Elem, D: Backend<E>> Model<E, D> for Mlp<E, D> {
    type Input<B: Dim> = (B, Const<1>, Const<28>, Const<28>);
    type Output<B: Dim> = (B, Const<10>);
    fn input_shape<B: Dim>(batch: B) -> Self::Input<B> {
        (batch, Const, Const, Const)
    }
    fn output_shape<B: Dim>(batch: B) -> Self::Output<B> {
        (batch, Const)
    }
    fn try_forward<B: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        Module::try_forward(self, x).dev()
    }
    fn try_forward_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> Result<Tensor<Self::Output<B>, E, D, T>> {
        ModuleMut::try_forward_mut(self, x).dev()
    }
}

/// Plain SGD (`p -= lr * g`) as the tests' optimizer.
pub fn plain_sgd<E: Elem, D: Backend<E>>(lr: f64) -> Sgd<E, D> {
    Sgd::new(SgdConfig {
        lr,
        ..Default::default()
    })
    .expect("valid SGD config")
}

/// Two Gaussian blobs in 2-D: class 0 around (-1.5, -1.5), class 1 around
/// (1.5, 1.5), noise sigma 0.7, deterministic for a seed.
pub fn blobs(n: usize, seed: u64) -> Dataset {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut normal = move || {
        let (u1, u2) = (next().max(1e-12), next());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let mut features = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 2;
        let m = if c == 0 { -1.5 } else { 1.5 };
        features.push(m + 0.7 * normal());
        features.push(m + 0.7 * normal());
        labels.push(c);
    }
    Dataset::with_classes(features, &[2], labels).unwrap()
}

/// All parameters of a model, flattened, in visit order (for bit-exact
/// comparisons).
pub fn params<E: Elem, D: Backend<E>, M: TensorCollection<E, D>>(m: &M) -> Vec<E> {
    struct P<E>(Vec<E>);
    impl<E: Elem, D: Backend<E>> TensorVisitor<E, D> for P<E> {
        type Viewer = ViewTensorRef;
        type Err = D::Err;
        type E2 = E;
        type D2 = D;
        fn visit<S: Shape>(
            &mut self,
            _: TensorOptions<S, E, D>,
            t: &Tensor<S, E, D>,
        ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
            self.0.extend(t.as_vec());
            Ok(None)
        }
    }
    let mut p = P(Vec::new());
    M::iter_tensors(&mut RecursiveWalker { m, f: &mut p }).unwrap();
    p.0
}

/// A fresh temporary directory under the target dir's tmp folder.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sxima-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
