use sxima::prelude::*;

model! {
    pub Net(input: [2, 96, 9, 9]) {
        lrn: LocalResponseNorm(5),
    }
}

fn main() {}
