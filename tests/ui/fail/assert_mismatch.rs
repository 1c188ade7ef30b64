use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Dense(128),
        ReLU,
        fc2: Dense(10) -> [12],
    }
}

fn main() {}
