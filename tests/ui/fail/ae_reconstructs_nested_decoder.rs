use sxima::prelude::*;

model! {
    pub Decoder(input: [2]) { Dense(5), Sigmoid }

    pub Ae(input: [6], reconstructs) {
        enc: Dense(2),
        decoder: Decoder -> [6],
    }
}

fn main() {}
