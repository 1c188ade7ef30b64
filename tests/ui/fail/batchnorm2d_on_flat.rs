use sxima::prelude::*;

model! {
    pub Net(input: [64]) {
        bn: BatchNorm2d,
    }
}

fn main() {}
