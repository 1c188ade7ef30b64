//! LeNet-5 (LeCun et al. 1998) as the lecture draws it: two 5x5 convolutions
//! with 6 and 16 channels, each followed by ReLU and 2x2 average pooling,
//! then dense 120-84-10, on a 32x32 grey image.

sxima_zoo_core::model! {
    /// LeNet-5: `[1, 32, 32]` -> 10 logits; 61,706 parameters.
    ///
    /// torchvision has no LeNet; the reference is the `nn.Sequential` of
    /// `lenet5()` in `shared/torch/export_torchvision.py`, so the layers are
    /// numbered as that `Sequential`'s children (`0.weight`, `3.weight`,
    /// `7.weight`, `9.weight`, `11.weight`).
    pub LeNet5(input: [1, 32, 32]) {
        0: Conv2d(6, kernel = 5) -> [6, 28, 28],
        1: ReLU,
        2: AvgPool2d(2),
        3: Conv2d(16, kernel = 5) -> [16, 10, 10],
        4: ReLU,
        5: AvgPool2d(2) -> [16, 5, 5],
        6: Flatten,
        7: Dense(120),
        8: ReLU,
        9: Dense(84),
        10: ReLU,
        11: Dense(10),
    }
}

/// [`LeNet5`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<LeNet5<f32, sxima_zoo_core::Cpu>>("lenet5");
