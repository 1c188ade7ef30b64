//! The lecture's convolutional network on the bundled MNIST digits:
//! conv5x5(32)-ReLU-maxpool2, conv5x5(64)-ReLU-maxpool2, flatten, dense 128,
//! ReLU, dense 10; Adam (lr 1e-3, batch 64), 10 epochs on the 8,000-digit
//! training split, accuracy on the 2,000-digit test split. Writes the loss and
//! accuracy curves to `out/mnist_cnn.png`.
//!
//! ```text
//! cargo run --release --example mnist_cnn              # full run (~98% test accuracy)
//! cargo run --example mnist_cnn -- --quick             # CI smoke run: 1 epoch, 1,000 digits
//! cargo run --release --example mnist_cnn -- --seed 3  # another seed (weights and shuffling)
//! ```

use std::time::Instant;

use sxima::prelude::*;

model! {
    /// The lecture's CNN for 28x28 grey digits. Each `-> [..]` is checked by
    /// the compiler: change a kernel size and the build fails on that line.
    pub MnistCnn(input: [1, 28, 28]) {
        // 28 - 5 + 1 = 24: a "valid" 5x5 convolution shrinks each side by 4.
        conv1: Conv2d(32, kernel = 5) -> [32, 24, 24],
        ReLU,
        MaxPool2d(2) -> [32, 12, 12],
        // 12 - 5 + 1 = 8; 32 input channels x 25 taps x 64 filters = 51,200 weights.
        conv2: Conv2d(64, kernel = 5) -> [64, 8, 8],
        ReLU,
        MaxPool2d(2) -> [64, 4, 4],
        // 64 x 4 x 4 features per digit for the classifier.
        Flatten -> [1024],
        fc3: Dense(128),
        ReLU,
        fc4: Dense(10),
    }
}

fn main() -> sxima::Result<()> {
    // Training on the CPU: keep freed step buffers in the process (opt-in,
    // changes glibc's malloc settings for the whole process).
    sxima::runtime::tune_host_allocator();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let mnist = mnist::load(mnist::default_dir())?;
    let (train, test) = if quick {
        (mnist.train.take(1000), mnist.test.take(500))
    } else {
        (mnist.train, mnist.test)
    };
    let epochs = if quick { 1 } else { 10 };

    println!("{}", MnistCnn::<f32, Cpu>::summary());

    let dev = Cpu::seed_from_u64(seed);
    let mut model = MnistCnn::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;

    let start = Instant::now();
    let history = fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(epochs)
            .batch_size(64)
            .seed(seed)
            .validation_data(&test),
        &mut [],
    )?;
    let seconds = start.elapsed().as_secs_f64();

    let result = evaluate(&model, &SparseCrossEntropy, &test, 256)?;
    let accuracy = result.accuracy().unwrap_or(f64::NAN);
    println!(
        "test loss {:.4}  test accuracy {:.2}% on {} digits  ({} epochs in {:.1}s)",
        result.loss,
        100.0 * accuracy,
        test.len(),
        history.epochs.len(),
        seconds
    );

    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    history.plot("out/mnist_cnn.png")?;
    println!("loss and accuracy curves: out/mnist_cnn.png");
    Ok(())
}
