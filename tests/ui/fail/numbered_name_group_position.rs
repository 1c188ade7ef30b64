use sxima::prelude::*;

model! {
    pub Net(input: [4]) {
        features: {
            1: Dense(8),
            ReLU,
        },
        Dense(2),
    }
}

fn main() {}
