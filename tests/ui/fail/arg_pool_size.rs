use sxima::prelude::*;

model! {
    pub Net(input: [8, 28, 28]) {
        MaxPool2d(pool_size = 2),
    }
}

fn main() {}
