//! AlexNet (Krizhevsky et al. 2012) in torchvision's form (`alexnet()`,
//! `torchvision/models/alexnet.py`): the one-GPU variant with 64-192-384-256-256
//! channels and an adaptive average pool to 6x6.

sxima_zoo_core::model! {
    /// torchvision's `alexnet()`: `[3, 224, 224]` -> 1000 logits;
    /// 61,100,840 parameters, 0.71 GMACs.
    pub AlexNet(input: [3, 224, 224]) {
        features: {
            Conv2d(64, kernel = 11, stride = 4, padding = 2) -> [64, 55, 55],
            ReLU,
            MaxPool2d(3, stride = 2) -> [64, 27, 27],
            Conv2d(192, kernel = 5, padding = 2),
            ReLU,
            MaxPool2d(3, stride = 2) -> [192, 13, 13],
            Conv2d(384, kernel = 3, padding = 1),
            ReLU,
            Conv2d(256, kernel = 3, padding = 1),
            ReLU,
            Conv2d(256, kernel = 3, padding = 1),
            ReLU,
            MaxPool2d(3, stride = 2) -> [256, 6, 6],
        },
        avgpool: AdaptiveAvgPool2d(6),
        Flatten,
        classifier: {
            Dropout(0.5),
            Dense(4096),
            ReLU,
            Dropout(0.5),
            Dense(4096),
            ReLU,
            Dense(1000),
        },
    }
}

/// [`AlexNet`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<AlexNet<f32, sxima_zoo_core::Cpu>>("alexnet");
