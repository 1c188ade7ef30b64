use sxima::prelude::*;

model! {
    pub Ae(input: [6]) {
        enc: Dense(3),
        dec: Dense(6),
    } regularize {
        enc: activity_l2(weight = 1e-5),
    }
}

fn main() {}
