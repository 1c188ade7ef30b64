use sxima::prelude::*;

model! {
    pub Net(input: [3, 27, 27]) {
        stem: Conv2d(16, kernel = 3, stride = 2, padding = same),
        ReLU,
        pool: MaxPool2d(3, stride = 2, padding = 1) -> [16, 8, 8],
    }
}

fn main() {}
