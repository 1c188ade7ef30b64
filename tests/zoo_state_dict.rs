//! Loading a foreign state dict by name (`ModelFile::load_state_dict`):
//! small handmade safetensors files as PyTorch writes them (f32, PyTorch's
//! names, no sxima metadata or checksums, batch-norm counters), each
//! mismatch an error that names the tensor and the shapes.

use std::path::PathBuf;

use sxima::prelude::*;

model! {
    /// A `Sequential` of conv, batch norm, ReLU, flatten, dense, numbered as
    /// PyTorch numbers its children.
    pub Small(input: [1, 4, 4]) {
        0: Conv2d(2, kernel = 3, bias = false),
        1: BatchNorm2d,
        2: ReLU,
        3: Flatten,
        4: Dense(3),
    }
}

/// One tensor of a handmade file: name, dtype, shape, little-endian bytes.
struct T {
    name: &'static str,
    dtype: &'static str,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn f32s(name: &'static str, shape: &[usize], first: f32) -> T {
    let n: usize = shape.iter().product();
    T {
        name,
        dtype: "F32",
        shape: shape.to_vec(),
        data: (0..n)
            .flat_map(|i| (first + 0.25 * i as f32).to_le_bytes())
            .collect(),
    }
}

/// What `save_file(Sequential(Conv2d(1, 2, 3, bias=False), BatchNorm2d(2),
/// ReLU(), Flatten(), Linear(8, 3)).state_dict())` holds, counter included.
fn torch_state_dict() -> Vec<T> {
    vec![
        f32s("0.weight", &[2, 1, 3, 3], -2.0),
        f32s("1.weight", &[2], 0.5),
        f32s("1.bias", &[2], -0.5),
        f32s("1.running_mean", &[2], 0.1),
        f32s("1.running_var", &[2], 1.5),
        T {
            name: "1.num_batches_tracked",
            dtype: "I64",
            shape: vec![],
            data: 7i64.to_le_bytes().to_vec(),
        },
        f32s("4.weight", &[3, 8], -1.0),
        f32s("4.bias", &[3], 0.0),
    ]
}

/// Writes `tensors` as a safetensors file (8-byte header length, JSON
/// header, data), with no metadata, as PyTorch's `save_file` does.
fn write(tag: &str, tensors: &[T]) -> PathBuf {
    let mut header = Vec::new();
    let mut offset = 0;
    for t in tensors {
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        header.push(format!(
            "\"{}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            t.name,
            t.dtype,
            shape.join(","),
            offset,
            offset + t.data.len()
        ));
        offset += t.data.len();
    }
    let json = format!("{{{}}}", header.join(","));
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(json.as_bytes());
    for t in tensors {
        bytes.extend_from_slice(&t.data);
    }
    let path = std::env::temp_dir().join(format!(
        "sxima-zoo-state-dict-{tag}-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("temp dir is writable");
    path
}

fn load_err(tag: &str, tensors: &[T]) -> String {
    let path = write(tag, tensors);
    let r = Small::<f32, Cpu>::load_state_dict(&path, &Cpu::default());
    std::fs::remove_file(&path).ok();
    match r {
        Ok(_) => panic!("{tag}: loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_pytorch_state_dict_loads_by_name() {
    let tensors = torch_state_dict();
    let path = write("ok", &tensors);
    let model = Small::<f32, Cpu>::load_state_dict(&path, &Cpu::default());
    std::fs::remove_file(&path).ok();
    let model = model.expect("loads");
    let values = |name: &str| -> Vec<f32> {
        let t = tensors.iter().find(|t| t.name == name).expect("written");
        t.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    assert_eq!(model._0.weight.as_vec(), values("0.weight"));
    assert_eq!(model._4.weight.as_vec(), values("4.weight"));
    assert_eq!(model._4.bias.as_vec(), values("4.bias"));
    // Batch norm: every tensor under PyTorch's name, statistics included.
    assert_eq!(model._1.scale.as_vec(), values("1.weight"));
    assert_eq!(model._1.bias.as_vec(), values("1.bias"));
    assert_eq!(model._1.running_mean.as_vec(), values("1.running_mean"));
    assert_eq!(model._1.running_var.as_vec(), values("1.running_var"));
}

#[test]
fn a_missing_tensor_is_named_with_the_shape_the_model_needs() {
    let mut t = torch_state_dict();
    t.retain(|t| t.name != "1.running_var");
    let e = load_err("missing", &t);
    assert!(e.contains("1.running_var") && e.contains("[2]"), "{e}");
    assert!(e.contains("missing"), "{e}");
}

#[test]
fn an_extra_tensor_is_named() {
    let mut t = torch_state_dict();
    t.push(f32s("5.weight", &[3, 3], 0.0));
    let e = load_err("extra", &t);
    assert!(e.contains("5.weight") && e.contains("[3, 3]"), "{e}");
}

#[test]
fn a_mis_shaped_tensor_names_both_shapes() {
    let mut t = torch_state_dict();
    t[6] = f32s("4.weight", &[3, 9], 0.0);
    let e = load_err("shape", &t);
    assert!(
        e.contains("4.weight: file has [3, 9], model needs [3, 8]"),
        "{e}"
    );
}

#[test]
fn another_dtype_is_named() {
    let mut t = torch_state_dict();
    t[7] = T {
        name: "4.bias",
        dtype: "F64",
        shape: vec![3],
        data: [0.0f64; 3].iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let e = load_err("dtype", &t);
    assert!(e.contains("4.bias") && e.contains("F64"), "{e}");
}

#[test]
fn batch_counters_are_extra_for_a_plain_load_only() {
    let path = write("counter", &torch_state_dict());
    let plain = Small::<f32, Cpu>::load(&path, &Cpu::default()).map(|_| ());
    let options = LoadOptions::new().ignore_batch_counters(true);
    let with = Small::<f32, Cpu>::load_with(&path, &Cpu::default(), &options).map(|_| ());
    std::fs::remove_file(&path).ok();
    let e = plain
        .expect_err("a counter is not a sxima tensor")
        .to_string();
    assert!(e.contains("1.num_batches_tracked"), "{e}");
    assert!(with.is_ok(), "{with:?}");
}
