use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel = 5),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(64, kernel = 5) -> [64, 9, 9],
    }
}

fn main() {}
