use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Dense(128)
        fc2: Dense(10),
    }
}

fn main() {}
