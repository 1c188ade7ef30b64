use sxima::prelude::*;

model! {
    pub Net(input: [10, 4]) {
        lstm: Lstm(8, dropout = 1.5),
    }
}

fn main() {}
