use sxima::prelude::*;

model! {
    block BasicBlock(channels) {
        Conv2d(channels, kernel = 3, padding = 1),
        ReLU,
    }

    pub Net(input: [3, 32, 32]) {
        layer1: BasicBlok(16),
        GlobalAvgPool,
    }
}

fn main() {}
