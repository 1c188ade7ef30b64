use sxima::prelude::*;

model! {
    pub Net(input: [8, 16, 16]) {
        residual(shortcut = projection) {
            Conv2d(8, kernel = (3, 1), stride = (2, 1), padding = (1, 0)),
        },
        GlobalAvgPool,
    }
}

fn main() {}
