use sxima::prelude::*;

model! {
    pub Net(input: [4, 8, 8]) {
        conv: Conv2d(6, kernel = 3, groups = 4),
    }
}

fn main() {}
