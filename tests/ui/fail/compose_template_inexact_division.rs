use sxima::prelude::*;

model! {
    block Squeeze(c) {
        Conv2d(c / 3, kernel = 1),
        ReLU,
    }

    pub Net(input: [16, 8, 8]) {
        s: Squeeze(16),
        GlobalAvgPool,
    }
}

fn main() {}
