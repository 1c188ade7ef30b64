use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel_size = 3),
    }
}

fn main() {}
