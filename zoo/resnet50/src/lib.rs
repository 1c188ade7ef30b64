//! ResNet-50 (He et al. 2015) in torchvision's form (`resnet50()`,
//! `torchvision/models/resnet.py`): bottleneck blocks 1x1-3x3-1x1 with the
//! stride on the 3x3 ("ResNet v1.5"), 3-4-6-3 blocks per stage.

sxima_zoo_core::model! {
    /// ResNet bottleneck: 1x1 to `width`, 3x3 (with the stride), 1x1 to
    /// `width * 4`, and a skip connection (a projection where the shape changes).
    block Bottleneck(width, stride) {
        residual(shortcut = auto) {
            conv1: Conv2d(width, kernel = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(width, kernel = 3, stride = stride, padding = 1, bias = false),
            bn2: BatchNorm2d,
            ReLU,
            conv3: Conv2d(width * 4, kernel = 1, bias = false),
            bn3: BatchNorm2d,
        },
        ReLU,
    }

    /// torchvision's `resnet50()`: `[3, 224, 224]` -> 1000 logits;
    /// 25,557,032 parameters, 4.09 GMACs.
    pub ResNet50(input: [3, 224, 224]) {
        conv1: Conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: BatchNorm2d,
        ReLU,
        MaxPool2d(3, stride = 2, padding = 1) -> [64, 56, 56],
        layer1: { Bottleneck(64, 1), Bottleneck(64, 1), Bottleneck(64, 1) } -> [256, 56, 56],
        layer2: {
            Bottleneck(128, 2), Bottleneck(128, 1), Bottleneck(128, 1), Bottleneck(128, 1),
        } -> [512, 28, 28],
        layer3: {
            Bottleneck(256, 2), Bottleneck(256, 1), Bottleneck(256, 1),
            Bottleneck(256, 1), Bottleneck(256, 1), Bottleneck(256, 1),
        } -> [1024, 14, 14],
        layer4: { Bottleneck(512, 2), Bottleneck(512, 1), Bottleneck(512, 1) } -> [2048, 7, 7],
        GlobalAvgPool,
        fc: Dense(1000),
    }
}

/// [`ResNet50`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<ResNet50<f32, sxima_zoo_core::Cpu>>("resnet50");
