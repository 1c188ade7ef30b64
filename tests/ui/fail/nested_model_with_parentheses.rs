use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        encoder: Encoder(),
        Dense(10),
    }
}

fn main() {}
