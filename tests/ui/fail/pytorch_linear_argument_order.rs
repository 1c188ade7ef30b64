use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Dense(784, 128),
    }
}

fn main() {}
