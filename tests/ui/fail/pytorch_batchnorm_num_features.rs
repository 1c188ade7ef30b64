use sxima::prelude::*;

model! {
    pub Net(input: [16, 14, 14]) {
        bn1: BatchNorm2d(16),
    }
}

fn main() {}
