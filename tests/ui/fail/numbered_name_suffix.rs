use sxima::prelude::*;

model! {
    pub Net(input: [4]) {
        0: Dense(8),
        1u8: ReLU,
        2: Dense(2),
    }
}

fn main() {}
