use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        conv: Conv2d(8),
    }
}

fn main() {}
