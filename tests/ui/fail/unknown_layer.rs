use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Dense(128),
        Relu,
        fc2: Dence(10),
    }
}

fn main() {}
