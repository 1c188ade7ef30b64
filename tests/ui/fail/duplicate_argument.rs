use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(10, units = 12),
    }
}

fn main() {}
