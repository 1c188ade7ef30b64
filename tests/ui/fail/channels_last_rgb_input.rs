use sxima::prelude::*;

model! {
    pub Net(input: [32, 32, 3]) {
        conv1: Conv2d(16, kernel = 3, padding = 1),
        ReLU,
    }
}

fn main() {}
