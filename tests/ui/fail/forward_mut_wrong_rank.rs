use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(10),
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let mut net = Net::<f32, Cpu>::build(&dev);
    // Images not flattened: the model takes flat 784-vectors.
    let x: Tensor<Rank4<8, 1, 28, 28>, f32, Cpu> = dev.zeros();
    let _y = net.forward_mut(x.traced(net.alloc_grads()));
}
