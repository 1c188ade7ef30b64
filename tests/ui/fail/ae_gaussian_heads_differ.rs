use sxima::prelude::*;

model! {
    pub Encoder(input: [6]) {
        enc: Dense(4),
        Tanh,
        z: gaussian(kl_weight = 1.0) { mu { Dense(2) } logvar { Dense(3) } },
    }
}

fn main() {}
