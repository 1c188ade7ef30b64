//! EfficientNet-B0 (Tan & Le 2019) in torchvision's form
//! (`efficientnet_b0()`, `torchvision/models/efficientnet.py`): a 3x3 stem,
//! 16 MBConv blocks in 7 stages (expansion 1x1, depthwise kxk,
//! squeeze-and-excitation, projection 1x1), a 1x1 head to 1280 channels.
//!
//! Names as torchvision's: `features.2.1.block.2.fc1.weight` (stage 2,
//! block 1, squeeze-and-excitation's first 1x1). Where a block keeps its
//! shape (stride 1, same channels), its branch ends in `StochasticDepth`
//! with torchvision's probability `0.2 * block index / 16`, and the input
//! is added back.

sxima_zoo_core::model! {
    /// torchvision's `SqueezeExcitation(c, squeeze)`: average pool, `fc1`,
    /// SiLU, `fc2`, sigmoid, a per-channel gate multiplied onto the input.
    block SqueezeExcitation(c, squeeze) {
        parallel(mul) {
            _ { }
            _ {
                avgpool: AdaptiveAvgPool2d(1),
                fc1: Conv2d(squeeze, kernel = 1),
                activation: SiLU,
                fc2: Conv2d(c, kernel = 1),
                scale_activation: Sigmoid,
            }
        }
    }

    /// MBConv with expansion ratio 1 (stage 1): depthwise `k`x`k`, SE,
    /// projection to `out`; `c` the input channels.
    block MBConv1(c, k, p, out, squeeze) {
        block: {
            { Conv2d(c, kernel = k, padding = p, groups = c, bias = false), BatchNorm2d, SiLU },
            SqueezeExcitation(c, squeeze),
            { Conv2d(out, kernel = 1, bias = false), BatchNorm2d },
        },
    }

    /// MBConv that changes the shape: expansion to `e` channels, depthwise
    /// `k`x`k` with stride `s` (padding `p`), SE, projection to `out`.
    block MBConv(e, k, s, p, out, squeeze) {
        block: {
            { Conv2d(e, kernel = 1, bias = false), BatchNorm2d, SiLU },
            { Conv2d(e, kernel = k, stride = s, padding = p, groups = e, bias = false), BatchNorm2d, SiLU },
            SqueezeExcitation(e, squeeze),
            { Conv2d(out, kernel = 1, bias = false), BatchNorm2d },
        },
    }

    /// MBConv that keeps the shape (`c` channels): the branch as [`MBConv`]
    /// with stride 1, dropped per sample with probability `sd` in training,
    /// plus the input.
    block MBConvRes(c, e, k, p, squeeze, sd) {
        residual(shortcut = identity) {
            block: {
                { Conv2d(e, kernel = 1, bias = false), BatchNorm2d, SiLU },
                { Conv2d(e, kernel = k, padding = p, groups = e, bias = false), BatchNorm2d, SiLU },
                SqueezeExcitation(e, squeeze),
                { Conv2d(c, kernel = 1, bias = false), BatchNorm2d },
            },
            stochastic_depth: StochasticDepth(sd),
        },
    }

    /// torchvision's `efficientnet_b0()`: `[3, 224, 224]` -> 1000 logits;
    /// 5,288,548 parameters, 0.39 GMACs.
    pub EfficientNetB0(input: [3, 224, 224]) {
        features: {
            { Conv2d(32, kernel = 3, stride = 2, padding = 1, bias = false), BatchNorm2d, SiLU },
            { MBConv1(32, 3, 1, 16, 8) } -> [16, 112, 112],
            { MBConv(96, 3, 2, 1, 24, 4), MBConvRes(24, 144, 3, 1, 6, 0.025) } -> [24, 56, 56],
            { MBConv(144, 5, 2, 2, 40, 6), MBConvRes(40, 240, 5, 2, 10, 0.05) } -> [40, 28, 28],
            {
                MBConv(240, 3, 2, 1, 80, 10),
                MBConvRes(80, 480, 3, 1, 20, 0.075),
                MBConvRes(80, 480, 3, 1, 20, 0.0875),
            } -> [80, 14, 14],
            {
                MBConv(480, 5, 1, 2, 112, 20),
                MBConvRes(112, 672, 5, 2, 28, 0.1125),
                MBConvRes(112, 672, 5, 2, 28, 0.125),
            } -> [112, 14, 14],
            {
                MBConv(672, 5, 2, 2, 192, 28),
                MBConvRes(192, 1152, 5, 2, 48, 0.15),
                MBConvRes(192, 1152, 5, 2, 48, 0.1625),
                MBConvRes(192, 1152, 5, 2, 48, 0.175),
            } -> [192, 7, 7],
            { MBConv(1152, 3, 1, 1, 320, 48) } -> [320, 7, 7],
            { Conv2d(1280, kernel = 1, bias = false), BatchNorm2d, SiLU },
        },
        avgpool: GlobalAvgPool,
        classifier: { Dropout(0.2), Dense(1000) },
    }
}

/// [`EfficientNetB0`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<EfficientNetB0<f32, sxima_zoo_core::Cpu>>("efficientnet_b0");
