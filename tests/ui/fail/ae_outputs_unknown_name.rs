use sxima::prelude::*;

model! {
    pub Ae(input: [6], outputs(code = cde, recon)) {
        enc: Dense(3),
        code: Sigmoid,
        recon: Dense(6),
    }
}

fn main() {}
