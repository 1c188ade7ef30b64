use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Dense(32),
        ReLU,
        fc2: Dense(10),
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let net = <Net as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<Rank2<4, 100>, f32, Cpu> = dev.zeros();
    let _y = net.forward(x);
}
