use sxima::prelude::*;

model! {
    pub Net(input: [28, 28]) {
        Flatten,
        lstm: Lstm(64),
    }
}

fn main() {}
