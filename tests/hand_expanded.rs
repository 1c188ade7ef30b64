//! The code `model!` generates for a small MLP, written by hand: the template
//! the macro follows, and proof that the layer contract composes generically.
//! (The generated `Forward` impl and inherent `forward` methods, see
//! `dsl-macros/src/api.rs`, are left out: this model runs through dfdx's
//! `Module`.)

use sxima::__private::dfdx::nn::modules::*;
use sxima::__private::dfdx::prelude::*;
use sxima::__private::sxima_runtime::error::DeviceResultExt;
use sxima::__private::sxima_runtime::{layers, model::*, Backend, Elem};

#[derive(Debug, Clone)]
pub struct Mlp<E: Dtype = f32, D: Storage<E> = Cpu> {
    pub flatten: layers::Flatten<784>,
    pub fc1: layers::Dense<784, 32, E, D>,
    pub relu: layers::ReLU,
    pub act2: layers::LeakyReLU,
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
                act2: layers::LeakyReLU::new(0.1),
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
        let x = Module::try_forward(&self.act2, x)?;
        let x: Tensor<(B, Const<10>), E, D, T> = Module::try_forward(&self.fc2, x)?;
        Ok(x)
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
        let x = ModuleMut::try_forward_mut(&mut self.act2, x)?;
        let x: Tensor<(B, Const<10>), E, D, T> = ModuleMut::try_forward_mut(&mut self.fc2, x)?;
        Ok(x)
    }
}

impl<E: Elem, D: Backend<E>> ModelInfo for Mlp<E, D> {
    const NAME: &'static str = "Mlp";
    const INPUT_SHAPE: &'static [usize] = &[1, 28, 28];
    const OUTPUT_SHAPE: &'static [usize] = &[10];
    const PARAM_COUNT: usize = 784 * 32 + 32 + 32 * 10 + 10;
    const MACS: u64 = 784 * 32 + 32 * 10;
    const LAYERS: &'static [LayerSummary] = &[
        LayerSummary {
            name: "flatten",
            kind: "Flatten",
            output_shape: &[784],
            params: 0,
        },
        LayerSummary {
            name: "fc1",
            kind: "Dense(32)",
            output_shape: &[32],
            params: 784 * 32 + 32,
        },
        LayerSummary {
            name: "relu",
            kind: "ReLU",
            output_shape: &[32],
            params: 0,
        },
        LayerSummary {
            name: "act2",
            kind: "LeakyReLU(0.1)",
            output_shape: &[32],
            params: 0,
        },
        LayerSummary {
            name: "fc2",
            kind: "Dense(10)",
            output_shape: &[10],
            params: 330,
        },
    ];
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
    ) -> sxima::Result<Tensor<Self::Output<B>, E, D, T>> {
        Module::try_forward(self, x).dev()
    }
    fn try_forward_mut<B: Dim, T: Tape<E, D>>(
        &mut self,
        x: Tensor<Self::Input<B>, E, D, T>,
    ) -> sxima::Result<Tensor<Self::Output<B>, E, D, T>> {
        ModuleMut::try_forward_mut(self, x).dev()
    }
}

const PARAMS: usize = <Mlp as ModelInfo>::PARAM_COUNT;

#[test]
fn hand_expanded_model_builds_runs_and_trains() {
    assert_eq!(PARAMS, 25_450);
    let dev = Cpu::seed_from_u64(0);
    let mut m = <Mlp as Model<f32, Cpu>>::build(&dev);
    assert_eq!(m.num_trainable_params(), PARAMS);
    let x = dev.sample_normal_like(&Mlp::<f32, Cpu>::input_shape(5usize));
    let y: Tensor<(usize, Const<10>), f32, Cpu> = m.forward(x.clone());
    assert_eq!(y.shape().0, 5);
    let y = m.forward_mut(x.traced(m.alloc_grads()));
    let g = y.square().mean().backward();
    assert!(g
        .get(&m.fc1.weight)
        .array()
        .iter()
        .flatten()
        .any(|v| *v != 0.0));
    println!("{}", Mlp::<f32, Cpu>::summary());
}
