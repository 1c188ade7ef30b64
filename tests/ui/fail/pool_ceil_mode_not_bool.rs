use sxima::prelude::*;

model! {
    pub Net(input: [3, 32, 32]) {
        Conv2d(8, kernel = 3),
        MaxPool2d(3, stride = 2, ceil_mode = 1),
    }
}

fn main() {}
