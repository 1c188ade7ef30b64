use sxima::prelude::*;

model! {
    pub Net(input: [10]) {
        LeakyRelu(0.2),
    }
}

fn main() {}
