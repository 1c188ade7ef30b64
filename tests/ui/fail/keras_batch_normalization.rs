use sxima::prelude::*;

model! {
    pub Net(input: [64, 7, 7]) {
        BatchNormalization,
    }
}

fn main() {}
