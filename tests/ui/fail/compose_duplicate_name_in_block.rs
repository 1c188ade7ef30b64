use sxima::prelude::*;

model! {
    block Twice(c) {
        residual {
            conv: Conv2d(c, kernel = 3, padding = 1),
            ReLU,
            conv: Conv2d(c, kernel = 3, padding = 1),
        },
    }

    pub Net(input: [4, 8, 8]) {
        b: Twice(4),
        GlobalAvgPool,
    }
}

fn main() {}
