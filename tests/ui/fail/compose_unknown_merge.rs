use sxima::prelude::*;

model! {
    pub Net(input: [16, 8, 8]) {
        parallel(stack) {
            a { Conv2d(4, kernel = 1) }
            b { Conv2d(4, kernel = 1) }
        }
        GlobalAvgPool,
    }
}

fn main() {}
