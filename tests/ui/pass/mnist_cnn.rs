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

fn shapes<M: ModelInfo>() -> Vec<&'static [usize]> {
    M::LAYERS.iter().map(|l| l.output_shape).collect()
}

fn main() {
    const P: usize = <MnistCnn as ModelInfo>::PARAM_COUNT;
    const _: () = assert!(P == (32 * 25 + 32) + (64 * 32 * 25 + 64) + (1024 * 128 + 128) + 1290);
    let expect: [&[usize]; 11] = [
        &[32, 24, 24], &[32, 24, 24], &[32, 12, 12], &[64, 8, 8], &[64, 8, 8], &[64, 4, 4],
        &[1024], &[128], &[128], &[128], &[10],
    ];
    assert_eq!(shapes::<MnistCnn>(), expect);
    let dev = Cpu::seed_from_u64(1);
    let mut net = <MnistCnn as Model<f32, Cpu>>::build(&dev);
    assert_eq!(net.num_trainable_params(), P);
    let x: Tensor<Rank4<2, 1, 28, 28>, f32, Cpu> = dev.sample_normal();
    let y: Tensor<Rank2<2, 10>, f32, Cpu> = net.forward(x.clone());
    assert!(y.array().iter().flatten().all(|v| v.is_finite()));
    let y = net.forward_mut(x.traced(net.alloc_grads()));
    let g = y.square().mean().backward();
    assert!(g.get(&net.conv1.weight).as_vec().iter().any(|v| *v != 0.0));
    assert!(g.get(&net.conv2.bias).as_vec().iter().any(|v| *v != 0.0));
    assert!(MnistCnn::<f32, Cpu>::summary().to_string().contains("conv2 (Conv2d(64, kernel = 5))"));

    assert_eq!(<Zoo as ModelInfo>::PARAM_COUNT, 216 + 16 + 56 + 292 + 50);
    let expect: [&[usize]; 13] = [
        &[8, 16, 16], &[8, 16, 16], &[8, 20, 16], &[8, 21, 17], &[8, 21, 17], &[8, 11, 9],
        &[8, 22, 18], &[8, 22, 36], &[4, 44, 72], &[4, 4, 4], &[4, 2, 2], &[4], &[10],
    ];
    assert_eq!(shapes::<Zoo>(), expect);
    let mut zoo = <Zoo as Model<f32, Cpu>>::build(&dev);
    assert_eq!(zoo.num_trainable_params(), <Zoo as ModelInfo>::PARAM_COUNT);
    let x: Tensor<Rank4<2, 3, 32, 32>, f32, Cpu> = dev.sample_normal();
    let _y: Tensor<Rank2<2, 10>, f32, Cpu> = zoo.forward(x.clone());
    let y = zoo.forward_mut(x.traced(zoo.alloc_grads()));
    let g = y.square().mean().backward();
    assert!(g.get(&zoo.c1.weight).as_vec().iter().any(|v| *v != 0.0));

    let gm = <GlobalMax as Model<f32, Cpu>>::build(&dev);
    let _y: Tensor<Rank2<2, 4>, f32, Cpu> = gm.forward(dev.zeros::<Rank4<2, 3, 8, 8>>());
}
