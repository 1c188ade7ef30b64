use sxima::prelude::*;

model! {
    pub Net(input: [35]) {
        embed: Embedding(100, 64),
    }
}

fn main() {}
