//! The lecture's CNN architectures, each written once with [`model!`](crate::model!)
//! and named field by field as the reference implementation (torchvision's
//! `state_dict()` keys), so its weights load by name with
//! [`ModelFile::load_state_dict`](crate::prelude::ModelFile::load_state_dict).
//!
//! Behind the cargo feature `zoo` (these types cost compile time). Each
//! architecture is a crate of its own under `zoo/` (`sxima-zoo-resnet50` ...),
//! re-exported here, so that editing one recompiles only that one; each
//! model's [`ModelInfo`](crate::prelude::ModelInfo) constants give its
//! parameter count (`PARAM_COUNT`, equal to torchvision's `num_params`) and
//! multiply-accumulates per image (`MACS`).
//!
//! ```no_run
//! use sxima::prelude::*;
//! use sxima::zoo::ResNet18;
//!
//! let dev = Cpu::default();
//! // `torch.save`d as safetensors: `save_file(resnet18().state_dict(), "resnet18.safetensors")`
//! let model = ResNet18::<f32, Cpu>::load_state_dict("resnet18.safetensors", &dev)?;
//! let x: Tensor<Rank4<1, 3, 224, 224>, f32, Cpu> = dev.zeros();
//! let logits = model.try_forward(x)?; // [1, 1000]
//! # Ok::<(), sxima::Error>(())
//! ```
//!
//! A program that runs many of them, such as `examples/zoo.rs`, should go
//! through [`ALL`]: each [`ZooEntry`] builds or loads its model for `f32`
//! on `Cpu` as a `Box<dyn DynModel>`, compiled once in the model's crate, so
//! the program itself compiles none of the ten.
//!
//! ```no_run
//! use sxima::prelude::*;
//!
//! let dev = Cpu::default();
//! for entry in sxima::zoo::ALL {
//!     let model = (entry.build)(&dev)?;
//!     let len: usize = model.sample_input_shape().iter().product();
//!     let logits = model.try_forward_flat(dev.zeros_like(&(len,)))?; // batch 1, flat
//!     println!("{}: {} logits", entry.name, logits.shape().0);
//! }
//! # Ok::<(), sxima::Error>(())
//! ```

pub use sxima_zoo_alexnet::AlexNet;
pub use sxima_zoo_core::{DynModel, ZooEntry};
pub use sxima_zoo_densenet121::DenseNet121;
pub use sxima_zoo_efficientnet_b0::EfficientNetB0;
pub use sxima_zoo_googlenet::GoogLeNet;
pub use sxima_zoo_lenet5::LeNet5;
pub use sxima_zoo_resnet18::ResNet18;
pub use sxima_zoo_resnet50::ResNet50;
pub use sxima_zoo_resnext50::ResNeXt50_32x4d;
pub use sxima_zoo_vgg16::Vgg16;
pub use sxima_zoo_zfnet::ZfNet;

/// Every architecture for `f32` on `Cpu`, as compiled in its own crate, in
/// the lecture's order: LeNet-5, AlexNet, ZFNet, VGG-16, ResNet-18,
/// ResNet-50, ResNeXt-50 32x4d, GoogLeNet, DenseNet-121, EfficientNet-B0.
pub static ALL: [&ZooEntry; 10] = [
    &sxima_zoo_lenet5::CPU_F32,
    &sxima_zoo_alexnet::CPU_F32,
    &sxima_zoo_zfnet::CPU_F32,
    &sxima_zoo_vgg16::CPU_F32,
    &sxima_zoo_resnet18::CPU_F32,
    &sxima_zoo_resnet50::CPU_F32,
    &sxima_zoo_resnext50::CPU_F32,
    &sxima_zoo_googlenet::CPU_F32,
    &sxima_zoo_densenet121::CPU_F32,
    &sxima_zoo_efficientnet_b0::CPU_F32,
];

/// The entry named `name` (torchvision's name: `"resnet50"`,
/// `"resnext50_32x4d"`, ...; `"lenet5"`, `"zfnet"`), if the zoo has it.
pub fn entry(name: &str) -> Option<&'static ZooEntry> {
    ALL.iter().copied().find(|e| e.name == name)
}
