use sxima::prelude::*;

model! {
    pub Net(input: [1, 6, 6]) {
        conv: Conv2d(8, kernel = 3, dilation = (3, 1)),
    }
}

fn main() {}
