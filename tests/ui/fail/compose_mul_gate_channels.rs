use sxima::prelude::*;

model! {
    pub Net(input: [16, 8, 8]) {
        parallel(mul) {
            x { }
            se { GlobalAvgPool, Dense(4), ReLU, Dense(8), Sigmoid }
        }
        GlobalAvgPool,
    }
}

fn main() {}
