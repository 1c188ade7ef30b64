use sxima::prelude::*;

model! {
    pub Net(input: [8, 16, 16]) {
        parallel(add) {
            wide { Conv2d(16, kernel = 1) }
            narrow { Conv2d(8, kernel = 1) }
        }
        GlobalAvgPool,
    }
}

fn main() {}
