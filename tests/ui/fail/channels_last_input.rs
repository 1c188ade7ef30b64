use sxima::prelude::*;

model! {
    pub Net(input: [28, 28, 1]) {
        conv1: Conv2d(32, kernel = 3),
        ReLU,
    }
}

fn main() {}
