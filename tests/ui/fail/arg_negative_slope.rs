use sxima::prelude::*;

model! {
    pub Net(input: [10]) {
        LeakyReLU(negative_slope = 0.2),
    }
}

fn main() {}
