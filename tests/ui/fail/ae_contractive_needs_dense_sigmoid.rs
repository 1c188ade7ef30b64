use sxima::prelude::*;

model! {
    pub Ae(input: [6], reconstructs) {
        enc: Dense(3),
        ReLU,
        dec: Dense(6),
    } regularize {
        enc: contractive(weight = 1e-4),
    }
}

fn main() {}
