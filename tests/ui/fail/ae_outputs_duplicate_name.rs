use sxima::prelude::*;

model! {
    pub Ae(input: [6], outputs(code = code, code = recon)) {
        enc: Dense(3),
        code: Sigmoid,
        recon: Dense(6),
    }
}

fn main() {}
