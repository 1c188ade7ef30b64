//! `BatchNorm2d(eps = .., momentum = ..)` in `model!` reaches the built
//! layer (GoogLeNet's batch norm has `eps = 0.001`); without them the layer
//! has PyTorch's defaults.

use sxima::prelude::*;

model! {
    pub Bn(input: [2, 3, 3]) {
        bn: BatchNorm2d(eps = 0.001, momentum = 0.01),
        g: { BatchNorm2d },
    }
}

#[test]
fn written_eps_and_momentum_reach_the_layer() {
    let dev = Cpu::seed_from_u64(0);
    let mut m = Bn::<f64, Cpu>::build(&dev);
    assert_eq!((m.bn.epsilon, m.bn.momentum), (0.001, 0.01));
    assert_eq!((m.g._0.epsilon, m.g._0.momentum), (1e-5, 0.1));
    // Inference divides by sqrt(running_var + eps): with running_var = 0
    // and a unit input the output is 1 / sqrt(eps).
    m.bn.running_var = dev.zeros();
    m.g._0.running_var = dev.ones();
    let x = dev.ones_like(&(1usize, Const::<2>, Const::<3>, Const::<3>));
    let y = m.forward(x.clone());
    let after_bn = 1.0 / 0.001f64.sqrt();
    let want = after_bn / (1.0 + 1e-5f64).sqrt();
    assert!(
        y.as_vec().iter().all(|v| (v - want).abs() < 1e-9),
        "{:?}",
        y.as_vec()
    );
    // Training updates the running mean with the written momentum.
    let _ = m.forward_mut(x);
    assert!(m
        .bn
        .running_mean
        .as_vec()
        .iter()
        .all(|v| (v - 0.01).abs() < 1e-12));
}
