use sxima::prelude::*;

model! {
    pub Net(input: [1, 8, 8]) {
        conv: Conv2d(8, kernel = (3, 0)),
    }
}

fn main() {}
