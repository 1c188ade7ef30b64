use sxima::prelude::*;

model! {
    pub Net(input: [96, 27, 27]) {
        lrn: LocalResponseNorm(0),
    }
}

fn main() {}
