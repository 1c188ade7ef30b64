use sxima::prelude::*;

model! {
    pub Net(input: [8, 28, 28]) {
        AveragePooling2D(2),
    }
}

fn main() {}
