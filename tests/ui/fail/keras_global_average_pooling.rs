use sxima::prelude::*;

model! {
    pub Net(input: [64, 7, 7]) {
        GlobalAveragePooling2D,
        Dense(10),
    }
}

fn main() {}
