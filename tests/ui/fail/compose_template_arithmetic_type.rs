use sxima::prelude::*;

model! {
    block Bottleneck(width) {
        Conv2d(width, kernel = 1),
        Conv2d(width * 4, kernel = 1),
    }

    pub Net(input: [3, 32, 32]) {
        layer1: Bottleneck(same),
        GlobalAvgPool,
    }
}

fn main() {}
