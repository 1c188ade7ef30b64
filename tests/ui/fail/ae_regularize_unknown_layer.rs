use sxima::prelude::*;

model! {
    pub Ae(input: [6], reconstructs) {
        enc: Dense(3),
        code: Sigmoid,
        dec: Dense(6),
    } regularize {
        cod: sparsity_kl(rho = 0.05, weight = 3.0),
    }
}

fn main() {}
