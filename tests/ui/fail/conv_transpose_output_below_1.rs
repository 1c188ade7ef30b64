use sxima::prelude::*;

model! {
    pub Net(input: [32, 2, 2]) {
        up: ConvTranspose2d(16, kernel = 1, padding = 3),
    }
}

fn main() {}
