use sxima::prelude::*;

model! {
    pub Net(input: [28, 28]) {
        conv: Conv2d(8, kernel = 3),
    }
}

fn main() {}
