use sxima::prelude::*;

model! {
    pub Net(input: [96, 27, 27]) {
        lrn: LocalResponseNorm(5, beta = -0.75),
    }
}

fn main() {}
