use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        conv1: Conv2d(1, 32, 3),
        ReLU,
    }
}

fn main() {}
