use sxima::prelude::*;

model! {
    pub Net(input: [3, 8, 8]) {
        pool: AdaptiveAvgPool2d(0),
    }
}

fn main() {}
