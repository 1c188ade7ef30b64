use sxima::prelude::*;

model! {
    /// Expects 16 channels.
    pub Head(input: [16, 8, 8]) {
        conv: Conv2d(4, kernel = 1),
    }
}

model! {
    pub Net(input: [8, 8, 8]) {
        parallel(concat) {
            a { Conv2d(4, kernel = 1) }
            b { head: Head -> [4, 8, 8] }
        }
        GlobalAvgPool,
    }
}

fn main() {}
