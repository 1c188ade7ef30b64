use sxima::prelude::*;

model! {
    pub Net(input: tokens[35]) {
        fc: Dense(64),
    }
}

fn main() {}
