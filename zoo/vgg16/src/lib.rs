//! VGG-16 (Simonyan & Zisserman 2014, configuration D) in torchvision's form
//! (`vgg16()`, `torchvision/models/vgg.py`: no batch norm, an adaptive
//! average pool to 7x7, dropout 0.5 in the classifier).

sxima_zoo_core::model! {
    /// torchvision's `vgg16()`: `[3, 224, 224]` -> 1000 logits;
    /// 138,357,544 parameters, 15.47 GMACs. `features.N` numbers every
    /// module of the `Sequential` (convs at 0, 2, 5, 7, 10, ..., 28).
    pub Vgg16(input: [3, 224, 224]) {
        features: {
            Conv2d(64, kernel = 3, padding = 1), ReLU,
            Conv2d(64, kernel = 3, padding = 1), ReLU,
            MaxPool2d(2),
            Conv2d(128, kernel = 3, padding = 1), ReLU,
            Conv2d(128, kernel = 3, padding = 1), ReLU,
            MaxPool2d(2),
            Conv2d(256, kernel = 3, padding = 1), ReLU,
            Conv2d(256, kernel = 3, padding = 1), ReLU,
            Conv2d(256, kernel = 3, padding = 1), ReLU,
            MaxPool2d(2),
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            MaxPool2d(2),
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            Conv2d(512, kernel = 3, padding = 1), ReLU,
            MaxPool2d(2) -> [512, 7, 7],
        },
        avgpool: AdaptiveAvgPool2d(7),
        Flatten,
        classifier: {
            Dense(4096),
            ReLU,
            Dropout(0.5),
            Dense(4096),
            ReLU,
            Dropout(0.5),
            Dense(1000),
        },
    }
}

/// [`Vgg16`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<Vgg16<f32, sxima_zoo_core::Cpu>>("vgg16");
