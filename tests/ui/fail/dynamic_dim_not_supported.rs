use sxima::prelude::*;

model! {
    pub Net(input: [seq, 64]) {
        fc: Dense(64),
    }
}

fn main() {}
