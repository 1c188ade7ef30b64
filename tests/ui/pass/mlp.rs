use sxima::prelude::*;

model! {
    /// A dense MLP.
    pub Mlp(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(64),
        ReLU,
        fc2: Dense(10, bias = false),
        Softmax,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let net = <Mlp as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<Rank4<4, 1, 28, 28>, f32, Cpu> = dev.zeros();
    let y: Tensor<Rank2<4, 10>, f32, Cpu> = net.forward(x);
    let _ = y;
    const P: usize = <Mlp as ModelInfo>::PARAM_COUNT;
    const _: () = assert!(P == 784 * 64 + 64 + 640);
}
