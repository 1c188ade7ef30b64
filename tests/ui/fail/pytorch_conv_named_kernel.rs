use sxima::prelude::*;

model! {
    pub Net(input: [3, 32, 32]) {
        conv1: Conv2d(3, 16, kernel = 5),
    }
}

fn main() {}
