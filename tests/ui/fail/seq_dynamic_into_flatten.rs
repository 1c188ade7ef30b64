use sxima::prelude::*;

model! {
    pub Net(input: [seq, 4]) {
        lstm: Lstm(8, return_sequences = true),
        Flatten,
    }
}

fn main() {}
