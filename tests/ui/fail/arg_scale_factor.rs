use sxima::prelude::*;

model! {
    pub Net(input: [8, 7, 7]) {
        UpSampling2d(scale_factor = 2),
    }
}

fn main() {}
