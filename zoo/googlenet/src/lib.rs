//! GoogLeNet (Inception v1, Szegedy et al. 2014) in torchvision's form
//! (`googlenet(aux_logits=False, transform_input=False)`,
//! `torchvision/models/googlenet.py`): every convolution is a `BasicConv2d`
//! (conv without bias, batch norm with `eps = 0.001`, ReLU), the pools round
//! up (`ceil_mode = true`), and, as torchvision's (and its weights), the
//! "5x5" branch uses a 3x3 convolution.

sxima_zoo_core::model! {
    /// torchvision's `BasicConv2d`: `conv` (no bias), `bn` (`eps = 0.001`), ReLU.
    block BasicConv2d(c, k, s, p) {
        conv: Conv2d(c, kernel = k, stride = s, padding = p, bias = false),
        bn: BatchNorm2d(eps = 0.001),
        ReLU,
    }

    /// An Inception module: four branches concatenated along the channels
    /// (`branch1` .. `branch4`, torchvision's names).
    block Inception(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) {
        parallel(concat) {
            branch1 { BasicConv2d(ch1x1, 1, 1, 0) }
            branch2 { { BasicConv2d(ch3x3red, 1, 1, 0), BasicConv2d(ch3x3, 3, 1, 1) } }
            branch3 { { BasicConv2d(ch5x5red, 1, 1, 0), BasicConv2d(ch5x5, 3, 1, 1) } }
            branch4 {
                {
                    MaxPool2d(3, stride = 1, padding = 1, ceil_mode = true),
                    BasicConv2d(pool_proj, 1, 1, 0),
                }
            }
        }
    }

    /// torchvision's `googlenet()` without the auxiliary heads:
    /// `[3, 224, 224]` -> 1000 logits; 6,624,904 parameters, 1.50 GMACs.
    pub GoogLeNet(input: [3, 224, 224]) {
        conv1: BasicConv2d(64, 7, 2, 3),
        maxpool1: MaxPool2d(3, stride = 2, ceil_mode = true) -> [64, 56, 56],
        conv2: BasicConv2d(64, 1, 1, 0),
        conv3: BasicConv2d(192, 3, 1, 1),
        maxpool2: MaxPool2d(3, stride = 2, ceil_mode = true) -> [192, 28, 28],
        inception3a: Inception(64, 96, 128, 16, 32, 32),
        inception3b: Inception(128, 128, 192, 32, 96, 64) -> [480, 28, 28],
        maxpool3: MaxPool2d(3, stride = 2, ceil_mode = true),
        inception4a: Inception(192, 96, 208, 16, 48, 64),
        inception4b: Inception(160, 112, 224, 24, 64, 64),
        inception4c: Inception(128, 128, 256, 24, 64, 64),
        inception4d: Inception(112, 144, 288, 32, 64, 64),
        inception4e: Inception(256, 160, 320, 32, 128, 128) -> [832, 14, 14],
        maxpool4: MaxPool2d(2, stride = 2, ceil_mode = true),
        inception5a: Inception(256, 160, 320, 32, 128, 128),
        inception5b: Inception(384, 192, 384, 48, 128, 128) -> [1024, 7, 7],
        avgpool: GlobalAvgPool,
        dropout: Dropout(0.2),
        fc: Dense(1000),
    }
}

/// [`GoogLeNet`] for `f32` on `Cpu` behind [`DynModel`](sxima_zoo_core::DynModel),
/// compiled here once: programs that call it do not compile the model again.
pub static CPU_F32: sxima_zoo_core::ZooEntry =
    sxima_zoo_core::ZooEntry::of::<GoogLeNet<f32, sxima_zoo_core::Cpu>>("googlenet");
