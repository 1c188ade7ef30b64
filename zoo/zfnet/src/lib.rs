//! ZFNet (Zeiler & Fergus 2013, "Visualizing and Understanding Convolutional
//! Networks", figure 3): AlexNet with a 7x7/2 first layer and a 5x5/2 second.
//! torchvision has no ZFNet, so there is no reference file to check against.

sxima_zoo_core::model! {
    /// ZFNet: `[3, 224, 224]` -> 1000 logits; 62,357,608 parameters.
    ///
    /// The paper fixes the kernels, strides and widths (7x7/2 96, 5x5/2 256,
    /// 3x3 384, 384, 256; dense 4096-4096-1000). The details it leaves open
    /// are chosen so that its feature maps are the paper's 110, 55, 26, 13,
    /// 13, 13, 6 and the classifier sees 256x6x6 = 9216 features (which the
    /// parameter count 62,357,608 requires): `conv1` pads 1, the first two
    /// 3x3/2 max pools pad 1, `conv2` pads 0, the 3x3 convs pad 1; every conv
    /// has a bias and is followed by ReLU; the paper's contrast normalisation
    /// after the first two pools is a parameter-free `LocalResponseNorm(5)`
    /// (AlexNet's); the classifier has dropout 0.5 before the two hidden
    /// dense layers, laid out as torchvision's AlexNet (`features.N`,
    /// `classifier.N`).
    pub ZfNet(input: [3, 224, 224]) {
        features: {
            Conv2d(96, kernel = 7, stride = 2, padding = 1) -> [96, 110, 110],
            ReLU,
            MaxPool2d(3, stride = 2, padding = 1) -> [96, 55, 55],
            LocalResponseNorm(5),
            Conv2d(256, kernel = 5, stride = 2) -> [256, 26, 26],
            ReLU,
            MaxPool2d(3, stride = 2, padding = 1) -> [256, 13, 13],
            LocalResponseNorm(5),
            Conv2d(384, kernel = 3, padding = 1),
            ReLU,
            Conv2d(384, kernel = 3, padding = 1),
            ReLU,
            Conv2d(256, kernel = 3, padding = 1),
            ReLU,
            MaxPool2d(3, stride = 2) -> [256, 6, 6],
        },
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

/// [`ZfNet`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<ZfNet<f32, sxima_zoo_core::Cpu>>("zfnet");
