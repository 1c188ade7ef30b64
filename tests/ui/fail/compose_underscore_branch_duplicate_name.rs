use sxima::prelude::*;

model! {
    /// Squeeze-and-excitation whose gate layers (in a transparent `_`
    /// branch) clash with a name of the enclosing block.
    block Se(c) {
        fc1: Conv2d(c, kernel = 1),
        parallel(mul) {
            _ { }
            _ { AdaptiveAvgPool2d(1), fc1: Conv2d(c, kernel = 1), Sigmoid }
        },
    }

    pub Net(input: [8, 4, 4]) {
        se: Se(8),
    }
}

fn main() {}
