use sxima::prelude::*;

model! {
    pub Net(input: [96, 27]) {
        lrn: LocalResponseNorm(5),
    }
}

fn main() {}
