use sxima::prelude::*;

model! {
    pub Net(input: [3, 8, 8]) {
        up: UpSampling2d(2, mode = cubic),
    }
}

fn main() {}
