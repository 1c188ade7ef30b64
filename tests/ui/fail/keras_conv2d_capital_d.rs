use sxima::prelude::*;

model! {
    pub Net(input: [1, 28, 28]) {
        Conv2D(32, kernel = 3),
    }
}

fn main() {}
