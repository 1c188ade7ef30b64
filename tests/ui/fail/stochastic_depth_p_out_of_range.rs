use sxima::prelude::*;

model! {
    pub Net(input: [8, 4, 4]) {
        residual(shortcut = identity) {
            Conv2d(8, kernel = 3, padding = 1),
            StochasticDepth(1.0),
        },
    }
}

fn main() {}
