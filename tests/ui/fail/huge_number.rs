use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(100000000000000000000),
    }
}

fn main() {}
