use sxima::prelude::*;

model! {
    pub Net(input: [8, 8, 8]) {
        pool: MaxPool2d(2, padding = full),
    }
}

fn main() {}
