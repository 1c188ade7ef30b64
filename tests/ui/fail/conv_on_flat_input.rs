use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        Flatten,
        conv: Conv2d(8, kernel = 3),
    }
}

fn main() {}
