use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(units = same),
    }
}

fn main() {}
