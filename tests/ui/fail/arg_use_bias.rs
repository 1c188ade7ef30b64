use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(10, use_bias = false),
    }
}

fn main() {}
