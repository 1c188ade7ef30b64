use sxima::prelude::*;

model! {
    pub Net(input: [8, 4, 4]) {
        pool: MaxPool2d(5),
    }
}

fn main() {}
