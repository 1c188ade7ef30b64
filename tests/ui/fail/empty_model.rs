use sxima::prelude::*;

model! {
    pub Net(input: [784]) {}
}

fn main() {}
