use sxima::prelude::*;

model! {
    /// Reads 16 features per step.
    pub Encoder(input: [10, 16]) {
        lstm: Lstm(8, return_sequences = true),
    }

    pub Net(input: [10, 4]) {
        embed: Dense(12),
        enc: Encoder -> [10, 8],
    }
}

fn main() {}
