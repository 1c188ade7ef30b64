use sxima::prelude::*;

model! {
    pub Net(input: tokens[35]) {
        embed: Embedding(0, 64),
    }
}

fn main() {}
