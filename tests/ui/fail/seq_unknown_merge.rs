use sxima::prelude::*;

model! {
    pub Net(input: [10, 4]) {
        bi: Bidirectional(Lstm(8), merge = max),
    }
}

fn main() {}
