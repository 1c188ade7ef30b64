use sxima::prelude::*;

model! {
    pub Net(input: [4]) {
        0: Dense(8),
        1: ReLU,
        1: Dense(2),
    }
}

fn main() {}
