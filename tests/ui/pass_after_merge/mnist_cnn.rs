//! NEEDS THE RUNTIME CONV/POOL LAYERS (issue 3). Enabled by `ui_pass_after_merge` in
//! tests/macro_ui.rs, which is #[ignore]d until those layers are merged.
use sxima::prelude::*;

model! {
    /// The lecture's CNN for 28x28 grey digits.
    pub MnistCnn(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel = 5),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(64, kernel = 5) -> [64, 8, 8],
        ReLU,
        MaxPool2d(2),
        Flatten -> [1024],
        fc3: Dense(128),
        ReLU,
        Dropout(0.5),
        fc4: Dense(10),
    }

    /// Every issue-3 layer once.
    pub Zoo(input: [3, 32, 32]) {
        c1: Conv2d(8, kernel = 3, stride = 2, padding = same, bias = false) -> [8, 16, 16],
        BatchNorm2d,
        c2: Conv2d(8, kernel = (3, 1), dilation = 2, groups = 4, padding = full),
        pad: ZeroPadding2d(((1, 0), (0, 1))),
        p1: AvgPool2d(3, stride = 1, padding = same, count_include_pad = false),
        p2: MaxPool2d(2, padding = 1),
        up: UpSampling2d(2),
        up2: UpSampling2d((1, 2), mode = bilinear, align_corners = true),
        t: ConvTranspose2d(4, kernel = 3, stride = 2, padding = 1, output_padding = 1),
        a: AdaptiveAvgPool2d((4, 4)),
        m: AdaptiveMaxPool2d(2),
        GlobalAvgPool,
        fc: Dense(10),
    }

    pub GlobalMax(input: [3, 8, 8]) {
        Conv2d(4, kernel = 3, padding = valid),
        GlobalMaxPool,
    }
}

fn main() {
    const P: usize = <MnistCnn as ModelInfo>::PARAM_COUNT;
    const _: () = assert!(P == (32 * 25 + 32) + (64 * 32 * 25 + 64) + (1024 * 128 + 128) + 1290);
    let dev: Cpu = Default::default();
    let net = <MnistCnn as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<Rank4<2, 1, 28, 28>, f32, Cpu> = dev.zeros();
    let _y: Tensor<Rank2<2, 10>, f32, Cpu> = net.forward(x);
    let zoo = <Zoo as Model<f32, Cpu>>::build(&dev);
    let x: Tensor<Rank4<2, 3, 32, 32>, f32, Cpu> = dev.zeros();
    let _y: Tensor<Rank2<2, 10>, f32, Cpu> = zoo.forward(x);
    let g = <GlobalMax as Model<f32, Cpu>>::build(&dev);
    let _y: Tensor<Rank2<2, 4>, f32, Cpu> = g.forward(dev.zeros::<Rank4<2, 3, 8, 8>>());
}
