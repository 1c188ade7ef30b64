//! ResNet-18 (He et al. 2015) in torchvision's form (`resnet18()`,
//! `torchvision/models/resnet.py`): basic blocks of two 3x3 convolutions,
//! projection shortcuts (`downsample`) where the shape changes.

sxima_zoo_core::model! {
    /// ResNet basic block: two 3x3 convolutions and a skip connection.
    block BasicBlock(channels, stride) {
        residual(shortcut = auto) {
            conv1: Conv2d(channels, kernel = 3, stride = stride, padding = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(channels, kernel = 3, padding = 1, bias = false),
            bn2: BatchNorm2d,
        },
        ReLU,
    }

    /// torchvision's `resnet18()`: `[3, 224, 224]` -> 1000 logits;
    /// 11,689,512 parameters, 1.81 GMACs.
    pub ResNet18(input: [3, 224, 224]) {
        conv1: Conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: BatchNorm2d,
        ReLU,
        MaxPool2d(3, stride = 2, padding = 1) -> [64, 56, 56],
        layer1: repeat 2 { BasicBlock(64, 1) },
        layer2: { BasicBlock(128, 2), BasicBlock(128, 1) },
        layer3: { BasicBlock(256, 2), BasicBlock(256, 1) },
        layer4: { BasicBlock(512, 2), BasicBlock(512, 1) } -> [512, 7, 7],
        GlobalAvgPool,
        fc: Dense(1000),
    }
}

/// [`ResNet18`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<ResNet18<f32, sxima_zoo_core::Cpu>>("resnet18");
