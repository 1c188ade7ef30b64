use sxima::prelude::*;

model! {
    pub Net(input: [16]) {
        BatchNorm1d(momentum = 1.5, eps = 0.001),
    }
}

fn main() {}
