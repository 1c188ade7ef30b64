use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        conv: Conv2d(4, kernel = 3, stride = 2) -> [4, 14, 14],
    }
}

fn main() {}
