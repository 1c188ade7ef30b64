use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(10),
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let net = Net::<f32, Cpu>::build(&dev);
    // An f64 batch for an f32 model.
    let x: Tensor<Rank2<8, 784>, f64, Cpu> = dev.zeros();
    let _y = net.forward(x);
}
