use sxima::prelude::*;

model! {
    pub Ae(input: [6], reconstructs) {
        enc: Dense(3),
        Sigmoid,
        dec: Dense(5),
    }
}

fn main() {}
