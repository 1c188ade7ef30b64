use sxima::prelude::*;

model! {
    pub Net(input: [96, 27, 27]) {
        lrn: LocalResponseNorm(5, alpha = -1e-4),
    }
}

fn main() {}
