use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        enc: Encoder,
        Dense(10),
    }
}

fn main() {}
