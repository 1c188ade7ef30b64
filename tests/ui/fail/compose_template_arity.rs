use sxima::prelude::*;

model! {
    block Basic(channels, stride) {
        Conv2d(channels, kernel = 3, stride = stride, padding = 1),
        ReLU,
    }

    pub Net(input: [3, 32, 32]) {
        stem: Basic(16),
        GlobalAvgPool,
    }
}

fn main() {}
