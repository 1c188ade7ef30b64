use sxima::prelude::*;

model! {
    pub Net(input: [1, 0, 28]) {
        Flatten,
    }
}

fn main() {}
