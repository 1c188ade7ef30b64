use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        Input(784),
        Dense(10),
    }
}

fn main() {}
