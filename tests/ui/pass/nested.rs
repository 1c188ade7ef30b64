use sxima::prelude::*;

model! {
    /// A flat encoder.
    pub Encoder(input: [784]) {
        fc: Dense(32),
        ReLU,
    }

    /// Uses the encoder as a layer.
    pub Classifier(input: [1, 28, 28]) {
        Flatten,
        enc: Encoder -> [32],
        head: Dense(10),
    }
}

fn main() {
    const P: usize = <Classifier as ModelInfo>::PARAM_COUNT;
    const _: () = assert!(P == 784 * 32 + 32 + 330);
    let dev: Cpu = Default::default();
    let net = <Classifier as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, Cpu> =
        dev.zeros_like(&(3, Const, Const, Const));
    let y: Tensor<(usize, Const<10>), f32, Cpu> = net.forward(x);
    assert_eq!(y.shape().0, 3);
}
