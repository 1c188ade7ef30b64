use sxima::prelude::*;

model! {
    pub Net(input: [10, 4]) {
        gru: Gru(8, reset_after = 1),
    }
}

fn main() {}
