use sxima::prelude::*;

model! {
    pub Net(input: [8, 16, 16]) {
        parallel(concat) {
            same { Conv2d(4, kernel = 3, padding = 1) }
            valid { Conv2d(4, kernel = 3) }
        }
        GlobalAvgPool,
    }
}

fn main() {}
