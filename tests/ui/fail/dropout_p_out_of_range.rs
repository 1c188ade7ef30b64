use sxima::prelude::*;

model! {
    pub Net(input: [784]) {
        fc: Dense(128),
        Dropout(1.5),
    }
}

fn main() {}
