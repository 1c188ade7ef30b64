use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        Flatten,
        fc: Dense(10),
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let net = Net::<f32, Cpu>::build(&dev);
    // One image without the batch axis.
    let x: Tensor<Rank3<1, 28, 28>, f32, Cpu> = dev.zeros();
    let _y = net.forward(x);
}
