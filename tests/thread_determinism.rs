//! Same seed, same bytes: training a small CNN for a few steps on 1, 2 and 4
//! rayon threads gives bit-identical checkpoints (the CPU conv backward sums
//! weight gradients over fixed runs of samples, not one run per thread).

use sxima::prelude::*;

model! {
    /// A small CNN: two convs (so both conv backward paths run), pooling, dense.
    pub TinyCnn(input: [1, 12, 12]) {
        conv1: Conv2d(4, kernel = 3),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(8, kernel = 3, padding = 1),
        ReLU,
        Flatten,
        fc: Dense(3),
    }
}

/// 96 seeded pseudo-random images with labels from their mean brightness.
fn data() -> Dataset {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let n = 96;
    let x: Vec<f32> = (0..n * 144).map(|_| next()).collect();
    let labels = x
        .chunks(144)
        .map(|im| ((im.iter().sum::<f32>() / 144.0 * 6.0) as usize).min(2))
        .collect();
    Dataset::with_classes(x, &[1, 12, 12], labels).unwrap()
}

/// Trains on a dedicated pool of `threads` threads; returns the checkpoint bytes.
fn train_on(threads: usize, data: &Dataset) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let dev = Cpu::seed_from_u64(7);
        let mut model = TinyCnn::<f32, Cpu>::build(&dev);
        let mut opt = Adam::new(AdamConfig::default()).unwrap();
        let cfg = FitConfig::new().epochs(2).batch_size(32).seed(3).silent();
        fit(
            &mut model,
            &mut opt,
            &SparseCrossEntropy,
            data,
            cfg,
            &mut [],
        )
        .unwrap();
        let path = std::env::temp_dir().join(format!(
            "sxima-threads-{threads}-{}.safetensors",
            std::process::id()
        ));
        model.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

#[test]
fn one_two_and_four_threads_give_identical_checkpoints() {
    let d = data();
    let one = train_on(1, &d);
    for threads in [2, 4] {
        let other = train_on(threads, &d);
        assert_eq!(one.len(), other.len());
        let first_diff = one.iter().zip(&other).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "{threads} threads differ from 1 thread");
    }
    // And training did move the weights (the test would be empty otherwise).
    let dev = Cpu::seed_from_u64(7);
    let fresh = TinyCnn::<f32, Cpu>::build(&dev);
    let path = std::env::temp_dir().join(format!("sxima-threads-fresh-{}.st", std::process::id()));
    fresh.save(&path).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), one);
    let _ = std::fs::remove_file(&path);
}
