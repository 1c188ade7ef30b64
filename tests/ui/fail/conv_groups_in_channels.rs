use sxima::prelude::*;

model! {
    pub Net(input: [3, 8, 8]) {
        conv: Conv2d(6, kernel = 3, groups = 2),
    }
}

fn main() {}
