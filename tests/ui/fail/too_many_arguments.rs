use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        ReLU(2),
    }
}

fn main() {}
