use sxima::prelude::*;

model! {
    pub Net(input: [3, 8, 8]) {
        pad: ZeroPadding2d((1, 2, 3)),
    }
}

fn main() {}
