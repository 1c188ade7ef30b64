use sxima::prelude::*;

model! {
    pub Net(input: [10, 4]) {
        lstm: Lstm(8, return_sequences = true) -> [10, 16],
    }
}

fn main() {}
