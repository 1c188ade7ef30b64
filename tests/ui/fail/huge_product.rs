use sxima::prelude::*;

model! {
    pub Net(input: [4294967296, 4294967296, 4294967296]) {
        Flatten,
    }
}

fn main() {}
