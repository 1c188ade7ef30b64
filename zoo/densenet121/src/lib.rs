//! DenseNet-121 (Huang et al. 2016) in torchvision's form (`densenet121()`,
//! `torchvision/models/densenet.py`): growth rate 32, bottleneck 4 x 32 =
//! 128 channels, dense blocks of 6, 12, 24 and 16 layers, transitions
//! halving channels and size.
//!
//! A dense layer's output is concatenated to its input:
//! `parallel(concat) { _ { } denselayerN { .. } }` (the identity `_` is no
//! field), so the parameters are named as torchvision's
//! (`features.denseblock1.denselayer1.conv1.weight`).

sxima_zoo_core::model! {
    /// torchvision's `_DenseLayer`: BN-ReLU-1x1 conv to `bottleneck`,
    /// BN-ReLU-3x3 conv to `growth` channels.
    block DenseLayer(growth, bottleneck) {
        norm1: BatchNorm2d,
        relu1: ReLU,
        conv1: Conv2d(bottleneck, kernel = 1, bias = false),
        norm2: BatchNorm2d,
        relu2: ReLU,
        conv2: Conv2d(growth, kernel = 3, padding = 1, bias = false),
    }

    /// `DenseBlock6`: 6 dense layers, each concatenated to its input
    /// (`growth` channels more per layer).
    block DenseBlock6(growth, bottleneck) {
        parallel(concat) { _ { } denselayer1 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer2 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer3 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer4 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer5 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer6 { DenseLayer(growth, bottleneck) } },
    }

    /// `DenseBlock12`: 12 dense layers, each concatenated to its input
    /// (`growth` channels more per layer).
    block DenseBlock12(growth, bottleneck) {
        parallel(concat) { _ { } denselayer1 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer2 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer3 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer4 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer5 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer6 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer7 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer8 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer9 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer10 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer11 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer12 { DenseLayer(growth, bottleneck) } },
    }

    /// `DenseBlock24`: 24 dense layers, each concatenated to its input
    /// (`growth` channels more per layer).
    block DenseBlock24(growth, bottleneck) {
        parallel(concat) { _ { } denselayer1 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer2 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer3 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer4 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer5 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer6 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer7 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer8 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer9 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer10 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer11 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer12 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer13 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer14 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer15 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer16 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer17 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer18 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer19 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer20 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer21 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer22 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer23 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer24 { DenseLayer(growth, bottleneck) } },
    }

    /// `DenseBlock16`: 16 dense layers, each concatenated to its input
    /// (`growth` channels more per layer).
    block DenseBlock16(growth, bottleneck) {
        parallel(concat) { _ { } denselayer1 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer2 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer3 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer4 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer5 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer6 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer7 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer8 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer9 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer10 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer11 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer12 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer13 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer14 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer15 { DenseLayer(growth, bottleneck) } },
        parallel(concat) { _ { } denselayer16 { DenseLayer(growth, bottleneck) } },
    }

    /// torchvision's `_Transition`: BN-ReLU-1x1 conv to `c`, 2x2 average pool.
    block Transition(c) {
        norm: BatchNorm2d,
        relu: ReLU,
        conv: Conv2d(c, kernel = 1, bias = false),
        pool: AvgPool2d(2, stride = 2),
    }

    /// torchvision's `densenet121()`: `[3, 224, 224]` -> 1000 logits;
    /// 7,978,856 parameters, 2.83 GMACs.
    pub DenseNet121(input: [3, 224, 224]) {
        features: {
            conv0: Conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
            norm0: BatchNorm2d,
            relu0: ReLU,
            pool0: MaxPool2d(3, stride = 2, padding = 1) -> [64, 56, 56],
            denseblock1: DenseBlock6(32, 128) -> [256, 56, 56],
            transition1: Transition(128) -> [128, 28, 28],
            denseblock2: DenseBlock12(32, 128) -> [512, 28, 28],
            transition2: Transition(256) -> [256, 14, 14],
            denseblock3: DenseBlock24(32, 128) -> [1024, 14, 14],
            transition3: Transition(512) -> [512, 7, 7],
            denseblock4: DenseBlock16(32, 128) -> [1024, 7, 7],
            norm5: BatchNorm2d,
        },
        ReLU,
        GlobalAvgPool,
        classifier: Dense(1000),
    }
}

/// [`DenseNet121`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<DenseNet121<f32, sxima_zoo_core::Cpu>>("densenet121");
