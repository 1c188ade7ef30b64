//! ResNeXt-50 32x4d (Xie et al. 2016) in torchvision's form
//! (`resnext50_32x4d()`, `torchvision/models/resnet.py`): ResNet-50's
//! bottlenecks with a grouped 3x3 of 32 groups of 4 channels per 64 planes
//! (width `planes / 64 * 4 * 32 = planes * 2`).

sxima_zoo_core::model! {
    /// ResNeXt bottleneck for `planes`: 1x1 to `planes * 2`, grouped 3x3
    /// (32 groups, with the stride), 1x1 to `planes * 4`, skip connection.
    block XBottleneck(planes, stride) {
        residual(shortcut = auto) {
            conv1: Conv2d(planes * 2, kernel = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(planes * 2, kernel = 3, stride = stride, padding = 1, groups = 32, bias = false),
            bn2: BatchNorm2d,
            ReLU,
            conv3: Conv2d(planes * 4, kernel = 1, bias = false),
            bn3: BatchNorm2d,
        },
        ReLU,
    }

    /// torchvision's `resnext50_32x4d()`: `[3, 224, 224]` -> 1000 logits;
    /// 25,028,904 parameters, 4.23 GMACs.
    pub ResNeXt50_32x4d(input: [3, 224, 224]) {
        conv1: Conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: BatchNorm2d,
        ReLU,
        MaxPool2d(3, stride = 2, padding = 1) -> [64, 56, 56],
        layer1: { XBottleneck(64, 1), XBottleneck(64, 1), XBottleneck(64, 1) } -> [256, 56, 56],
        layer2: {
            XBottleneck(128, 2), XBottleneck(128, 1), XBottleneck(128, 1), XBottleneck(128, 1),
        } -> [512, 28, 28],
        layer3: {
            XBottleneck(256, 2), XBottleneck(256, 1), XBottleneck(256, 1),
            XBottleneck(256, 1), XBottleneck(256, 1), XBottleneck(256, 1),
        } -> [1024, 14, 14],
        layer4: { XBottleneck(512, 2), XBottleneck(512, 1), XBottleneck(512, 1) } -> [2048, 7, 7],
        GlobalAvgPool,
        fc: Dense(1000),
    }
}

/// [`ResNeXt50_32x4d`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<ResNeXt50_32x4d<f32, sxima_zoo_core::Cpu>>("resnext50_32x4d");
