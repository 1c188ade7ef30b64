use sxima::prelude::*;

model! {
    pub Net(input: [1, seq, 64]) {
        conv: Conv2d(8, kernel = 3),
    }
}

fn main() {}
