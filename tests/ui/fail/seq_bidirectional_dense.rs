use sxima::prelude::*;

model! {
    pub Net(input: [10, 4]) {
        bi: Bidirectional(Dense(8)),
    }
}

fn main() {}
