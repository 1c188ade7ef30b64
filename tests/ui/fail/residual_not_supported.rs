use sxima::prelude::*;

model! {
    pub Net(input: [64]) {
        fc: Dense(64),
        residual {
            Dense(64),
        },
    }
}

fn main() {}
