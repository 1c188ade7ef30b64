use sxima::prelude::*;

model! {
    pub Net(input: [28, 28]) {
        first: Lstm(64),
        second: Lstm(32),
    }
}

fn main() {}
