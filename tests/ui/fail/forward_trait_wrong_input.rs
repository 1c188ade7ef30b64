use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(10),
    }
}

/// Generic over any model and input: the shared `Forward<X>` bound.
fn runs<X, M: Forward<X>>(model: &M, x: X) -> bool {
    model.try_forward(x).is_ok()
}

fn main() {
    let dev: Cpu = Default::default();
    let net = Net::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<8, 100>, f32, Cpu> = dev.zeros();
    let _ok = runs(&net, x);
}
