//! The macro's emission and the runtime's const-generic parameter lists are
//! tied only by position (Conv2d has 18 sizes). This test builds every
//! layer with sizes that differ per axis (kernel, stride, padding on each
//! side, dilation) through `model!` and states each field's type by hand
//! in the runtime's documented order: a swap in the emission changes a type
//! and this file stops compiling. Running the model then evaluates the
//! runtime's own const assertions on those hand-stated sizes, so the hand
//! types are checked against the shared arithmetic too.

use sxima::prelude::*;

model! {
    /// Every layer kind with asymmetric sizes.
    pub Asym(input: [2, 9, 8]) {
        conv: Conv2d(4, kernel = (3, 2), stride = (2, 1), padding = ((1, 0), (2, 1)), dilation = (1, 2), groups = 2),
        conv_nb: Conv2d(4, kernel = (1, 2), stride = (1, 2), padding = ((0, 1), (1, 0)), bias = false),
        max: MaxPool2d((3, 2), stride = (1, 2), padding = (1, 0)),
        avg: AvgPool2d((2, 1), stride = (2, 1), count_include_pad = false),
        pad: ZeroPadding2d(((1, 2), (3, 0))),
        up: UpSampling2d((2, 3)),
        bil: UpSampling2d((1, 2), mode = bilinear, align_corners = true),
        ada: AdaptiveAvgPool2d((3, 2)),
        adm: AdaptiveMaxPool2d((3, 1)),
        convt: ConvTranspose2d(3, kernel = (3, 2), stride = (2, 1), padding = (1, 0), output_padding = (1, 0)),
        bn: BatchNorm2d,
        flat: Flatten,
        fc: Dense(5),
        fc_nb: Dense(2, bias = false),
    }
}

/// Each field's type written by hand, in the runtime's order.
#[allow(clippy::type_complexity)]
fn check_types(m: &Asym<f32, Cpu>) {
    // H: (9 + 1 + 0 - 1 * 2 - 1) / 2 + 1 = 4; W: (8 + 2 + 1 - 2 * 1 - 1) / 1 + 1 = 9.
    // CI, CO, KH, KW, SH, SW, DH, DW, G, CIG, PT, PB, PL, PR, HI, WI, HO, WO.
    let _: &layers::Conv2d<2, 4, 3, 2, 2, 1, 1, 2, 2, 1, 1, 0, 2, 1, 9, 8, 4, 9, f32, Cpu> =
        &m.conv;
    // H: (4 + 0 + 1 - 1) / 1 + 1 = 5; W: (9 + 1 + 0 - 2) / 2 + 1 = 5.
    let _: &layers::Conv2dNoBias<4, 4, 1, 2, 1, 2, 1, 1, 1, 4, 0, 1, 1, 0, 4, 9, 5, 5, f32, Cpu> =
        &m.conv_nb;
    // KH, KW, SH, SW, PT, PB, PL, PR, HI, WI, HO, WO: H (5 + 2 - 3) / 1 + 1 = 5, W (5 - 2) / 2 + 1 = 2.
    let _: &layers::MaxPool2d<3, 2, 1, 2, 1, 1, 0, 0, 5, 5, 5, 2> = &m.max;
    // H (5 - 2) / 2 + 1 = 2, W 2.
    let _: &layers::AvgPool2d<2, 1, 2, 1, 0, 0, 0, 0, 5, 2, 2, 2, false> = &m.avg;
    // PT, PB, PL, PR, HI, WI, HO, WO.
    let _: &layers::ZeroPadding2d<1, 2, 3, 0, 2, 2, 5, 5> = &m.pad;
    // SH, SW, HI, WI, HO, WO.
    let _: &layers::UpSampling2d<2, 3, 5, 5, 10, 15> = &m.up;
    let _: &layers::UpSampling2dBilinear<1, 2, 10, 15, 10, 30, true> = &m.bil;
    // HI, WI, HO, WO.
    let _: &layers::AdaptiveAvgPool2d<10, 30, 3, 2> = &m.ada;
    let _: &layers::AdaptiveMaxPool2d<3, 2, 3, 1> = &m.adm;
    // CI, CO, KH, KW, SH, SW, PH, PW, OPH, OPW, HI, WI, HO, WO:
    // H (3 - 1) * 2 - 2 + 3 + 1 = 6, W (1 - 1) * 1 - 0 + 2 + 0 = 2.
    let _: &layers::ConvTranspose2d<4, 3, 3, 2, 2, 1, 1, 0, 1, 0, 3, 1, 6, 2, f32, Cpu> = &m.convt;
    let _: &layers::BatchNorm2d<3, f32, Cpu> = &m.bn;
    let _: &layers::Flatten<36> = &m.flat;
    let _: &layers::Dense<36, 5, f32, Cpu> = &m.fc;
    let _: &layers::DenseNoBias<5, 2, f32, Cpu> = &m.fc_nb;
}

#[test]
fn emitted_types_follow_the_runtime_parameter_order() {
    let dev = Cpu::default();
    let m = <Asym as Model<f32, Cpu>>::build(&dev);
    check_types(&m);
    // Evaluates every layer's const assertions at these sizes.
    let x: Tensor<Rank4<3, 2, 9, 8>, f32, Cpu> = dev.sample_normal();
    let y = m.forward(x);
    assert!(y.array().iter().flatten().all(|v| v.is_finite()));
    let shapes: Vec<&[usize]> = <Asym as ModelInfo>::LAYERS
        .iter()
        .map(|l| l.output_shape)
        .collect();
    assert_eq!(shapes[0], &[4, 4, 9]);
    assert_eq!(shapes[9], &[3, 6, 2]);
    assert_eq!(<Asym as ModelInfo>::OUTPUT_SHAPE, &[2]);
}
