//! The generated `forward` family: inference and training, any batch size,
//! with and without a tape; and the shared `Forward<X>` trait in generic code.
use sxima::prelude::*;

model! {
    pub Net(input: [2, 3]) {
        Flatten,
        fc: Dense(4),
        Dropout(0.5),
    }
}

fn run_any<X, M: Forward<X>>(m: &M, x: X) -> sxima::Result<M::Output> {
    m.try_forward(x)
}

fn main() -> sxima::Result<()> {
    let dev = Cpu::seed_from_u64(1);
    let mut net = Net::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank3<5, 2, 3>, f32, Cpu> = dev.sample_normal();
    let y: Tensor<Rank2<5, 4>, f32, Cpu> = net.forward(x.clone());
    let y2 = net.try_forward(x.clone())?;
    assert_eq!(y.array(), y2.array());
    let y3 = run_any(&net, x.clone())?;
    assert_eq!(y.array(), y3.array());
    let xd = dev.sample_normal_like(&(7usize, Const::<2>, Const::<3>));
    let yd: Tensor<(usize, Const<4>), f32, Cpu> = net.try_forward(xd)?;
    assert_eq!(yd.shape().0, 7);
    let grads = net.alloc_grads();
    let yt = net.try_forward_mut(x.traced(grads))?;
    let _g = yt.sum().backward();
    Ok(())
}
