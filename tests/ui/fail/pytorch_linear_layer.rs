use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc1: Linear(128),
    }
}

fn main() {}
