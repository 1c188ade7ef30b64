//! The `model!` macro end to end on the lecture's MLP: 784-256-128-10 with
//! ReLU, from 28x28 grey images.
#![deny(missing_docs)]

use sxima::prelude::*;

model! {
    /// The lecture's MLP for 28x28 digits.
    pub Mlp(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(256),
        ReLU,
        fc2: Dense(128),
        ReLU,
        fc3: Dense(10),
    }
}

const P: usize = <Mlp as ModelInfo>::PARAM_COUNT;
const _: () = assert!(P == 235_146);

#[test]
fn constants_describe_the_model() {
    assert_eq!(P, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    assert_eq!(P, 235_146);
    assert_eq!(<Mlp as ModelInfo>::NAME, "Mlp");
    assert_eq!(<Mlp as ModelInfo>::INPUT_SHAPE, &[1, 28, 28]);
    assert_eq!(<Mlp as ModelInfo>::OUTPUT_SHAPE, &[10]);
    let layers = <Mlp as ModelInfo>::LAYERS;
    let names: Vec<&str> = layers.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        ["flatten_1", "fc1", "relu_1", "fc2", "relu_2", "fc3"]
    );
    assert_eq!(layers[0].output_shape, &[784]);
    assert_eq!(layers[1].kind, "Dense(256)");
    assert_eq!(layers[1].params, 784 * 256 + 256);
    assert_eq!(layers[2].params, 0);
    assert_eq!(layers[5].output_shape, &[10]);
    assert_eq!(layers.iter().map(|l| l.params).sum::<usize>(), P);
}

#[test]
fn summary_lists_every_layer() {
    let text = Mlp::<f32, Cpu>::summary().to_string();
    assert!(text.contains("Model: Mlp"), "{text}");
    assert!(text.contains("flatten_1 (Flatten)"), "{text}");
    assert!(text.contains("fc1 (Dense(256))"), "{text}");
    assert!(text.contains("(B, 256)"), "{text}");
    assert!(text.contains("200,960"), "{text}");
    assert!(text.contains("fc3 (Dense(10))"), "{text}");
    assert!(text.contains("Total params: 235,146"), "{text}");
}

#[test]
fn builds_runs_and_trains_on_cpu() {
    let dev = Cpu::seed_from_u64(0);
    let mut m = <Mlp as Model<f32, Cpu>>::build(&dev);
    assert_eq!(m.num_trainable_params(), P);

    // Inference on a dynamic batch and on a const batch.
    let x = dev.sample_normal_like(&Mlp::<f32, Cpu>::input_shape(4usize));
    let y: Tensor<(usize, Const<10>), f32, Cpu> = m.forward(x.clone());
    assert_eq!(y.shape().0, 4);
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    let xc: Tensor<Rank4<2, 1, 28, 28>, f32, Cpu> = dev.sample_normal();
    let yc: Tensor<Rank2<2, 10>, f32, Cpu> = m.forward(xc);
    assert!(yc.array().iter().flatten().any(|v| *v != 0.0));

    // Training forward and backward: every parameter layer gets a gradient.
    let y = m.forward_mut(x.traced(m.alloc_grads()));
    let g = y.square().mean().backward();
    for w in [
        g.get(&m.fc1.weight).as_vec(),
        g.get(&m.fc2.weight).as_vec(),
        g.get(&m.fc3.weight).as_vec(),
    ] {
        assert!(w.iter().any(|v| *v != 0.0));
    }
    assert!(g.get(&m.fc3.bias).as_vec().iter().any(|v| *v != 0.0));
}

model! {
    /// Two models in one call, one of them without parameters.
    pub Head(input: [16]) {
        act: LeakyReLU(0.2),
        Sigmoid,
    }

    pub(crate) NoBias(input: [4, 4]) {
        Flatten -> [16],
        Dense(8, bias = false),
        Tanh,
        Softmax,
    }
}

#[test]
fn several_models_and_parameterless_models() {
    assert_eq!(<Head as ModelInfo>::PARAM_COUNT, 0);
    assert_eq!(<Head as ModelInfo>::LAYERS[0].kind, "LeakyReLU(0.2)");
    assert_eq!(<NoBias as ModelInfo>::PARAM_COUNT, 128);
    assert_eq!(<NoBias as ModelInfo>::LAYERS[1].name, "dense_1");
    assert_eq!(
        <NoBias as ModelInfo>::LAYERS[1].kind,
        "Dense(8, bias = false)"
    );
    let dev: Cpu = Default::default();
    let h = <Head as Model<f32, Cpu>>::build(&dev);
    assert_eq!(h.act.alpha, 0.2);
    let x: Tensor<Rank2<3, 16>, f32, Cpu> = dev.tensor([[-1.0; 16]; 3]);
    let y = h.forward(x);
    // sigmoid(-0.2)
    assert!((y.array()[0][0] - 0.450_166).abs() < 1e-5);
    let nb = <NoBias as Model<f32, Cpu>>::build(&dev);
    let y = nb.forward(dev.sample_normal_like(&(5usize, Const::<4>, Const::<4>)));
    let sums: Vec<f32> = y.sum::<(usize,), _>().as_vec();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
}
