//! NEEDS Dropout, BatchNorm1d, GeLU, SiLU, LogSoftmax in the runtime (issue 2,
//! other branches). Enabled by `ui_pass_after_merge` in tests/macro_ui.rs.
use sxima::prelude::*;

model! {
    pub Extras(input: [20]) {
        fc1: Dense(16),
        bn: BatchNorm1d,
        GELU,
        Dropout(0.25),
        fc2: Dense(8),
        SiLU,
        LeakyReLU,
        fc3: Dense(4),
        LogSoftmax,
    }
}

fn main() {
    const P: usize = <Extras as ModelInfo>::PARAM_COUNT;
    const _: () = assert!(P == (20 * 16 + 16) + 32 + (16 * 8 + 8) + (8 * 4 + 4));
    let dev: Cpu = Default::default();
    let mut net = <Extras as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<Rank2<3, 20>, f32, Cpu> = dev.zeros();
    let _y: Tensor<Rank2<3, 4>, f32, Cpu> = net.forward(x.clone());
    let _y: Tensor<Rank2<3, 4>, f32, Cpu> = net.forward_mut(x);
}
