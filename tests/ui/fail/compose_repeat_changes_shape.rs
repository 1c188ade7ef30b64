use sxima::prelude::*;

model! {
    block Down(channels) {
        Conv2d(channels, kernel = 3, stride = 2, padding = 1),
        ReLU,
    }

    pub Net(input: [3, 32, 32]) {
        layers: repeat 3 { Down(16) },
        GlobalAvgPool,
    }
}

fn main() {}
