use sxima::prelude::*;

model! {
    pub Net(input: [8, 8, 8]) {
        pool: AvgPool2d(3, stride = 1, padding = 2),
    }
}

fn main() {}
