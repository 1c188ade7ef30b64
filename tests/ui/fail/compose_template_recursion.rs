use sxima::prelude::*;

model! {
    block A(c) {
        Conv2d(c, kernel = 1),
        B(c),
    }

    block B(c) {
        ReLU,
        A(c),
    }

    pub Net(input: [3, 8, 8]) {
        body: A(4),
        GlobalAvgPool,
    }
}

fn main() {}
