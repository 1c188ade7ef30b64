use sxima::prelude::*;

model! {
    pub Encoder(input: [784]) {
        fc: Dense(32),
        ReLU,
    }
}

model! {
    pub Net(input: [1, 28, 28]) {
        Flatten,
        enc: Encoder -> [64],
        head: Dense(10),
    }
}

fn main() {}
