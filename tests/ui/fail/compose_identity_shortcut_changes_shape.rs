use sxima::prelude::*;

model! {
    pub Net(input: [8, 16, 16]) {
        residual(shortcut = identity) {
            Conv2d(16, kernel = 3, stride = 2, padding = 1),
            ReLU,
        },
        GlobalAvgPool,
    }
}

fn main() {}
