use sxima::prelude::*;

model! {
    pub Net(input: tokens[35]) {
        lstm: Lstm(64),
    }
}

fn main() {}
