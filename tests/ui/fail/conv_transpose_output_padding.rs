use sxima::prelude::*;

model! {
    pub Net(input: [32, 7, 7]) {
        up: ConvTranspose2d(16, kernel = 3, stride = 2, padding = 1, output_padding = 2),
    }
}

fn main() {}
