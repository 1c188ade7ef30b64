use sxima::prelude::*;

model! {
    pub Net(input: [1, 4, 4]) {
        conv: Conv2d(8, kernel = 5),
    }
}

fn main() {}
