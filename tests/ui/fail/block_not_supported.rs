use sxima::prelude::*;

model! {
    block Head(units) {
        Dense(units),
        ReLU,
    }

    pub Net(input: [784]) {
        fc: Dense(10),
    }
}

fn main() {
    let _ = <Net as ModelInfo>::PARAM_COUNT;
}
