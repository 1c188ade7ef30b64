use sxima::prelude::*;

model! {
    /// Expects flat 784-vectors.
    pub Encoder(input: [784]) {
        fc: Dense(32),
        ReLU,
    }
}

model! {
    pub Net(input: [1, 28, 28]) {
        enc: Encoder -> [32],
        head: Dense(10),
    }
}

fn main() {}
