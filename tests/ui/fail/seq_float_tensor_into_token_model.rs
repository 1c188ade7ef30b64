use sxima::prelude::*;

model! {
    pub Net(input: tokens[6]) {
        embed: Embedding(10, 4),
        lstm: Lstm(8),
    }
}

fn main() {
    let dev = Cpu::default();
    let net = Net::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<2, 6>, f32, Cpu> = dev.zeros();
    let _ = net.forward(x);
}
