use sxima::prelude::*;

model! {
    pub Net() {
        fc: Dense(10),
    }
}

fn main() {}
