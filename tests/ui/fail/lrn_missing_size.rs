use sxima::prelude::*;

model! {
    pub Net(input: [96, 27, 27]) {
        lrn: LocalResponseNorm,
    }
}

fn main() {}
