//! The lecture's CNN architectures, each written once with [`model!`](crate::model!)
//! and named field by field as the reference implementation (torchvision's
//! `state_dict()` keys), so its weights load by name with
//! [`ModelFile::load_state_dict`](crate::prelude::ModelFile::load_state_dict).
//!
//! Behind the cargo feature `zoo` (these types cost compile time). One file
//! per architecture; each model's [`ModelInfo`](crate::prelude::ModelInfo)
//! constants give its parameter count (`PARAM_COUNT`, equal to torchvision's
//! `num_params`) and multiply-accumulates per image (`MACS`).
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

mod alexnet;
mod lenet5;
mod resnet18;
mod resnet50;
mod resnext50;
mod vgg16;
mod zfnet;

pub use alexnet::AlexNet;
pub use lenet5::LeNet5;
pub use resnet18::ResNet18;
pub use resnet50::ResNet50;
pub use resnext50::ResNeXt50_32x4d;
pub use vgg16::Vgg16;
pub use zfnet::ZfNet;
