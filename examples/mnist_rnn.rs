//! An LSTM reading each MNIST digit row by row: 28 steps of 28 pixels, the
//! last hidden state (128 units) into Dense(10). Adam (lr 1e-3, batch 64),
//! 10 epochs on the 8,000-digit training split, accuracy on the 2,000-digit
//! test split (PyTorch with the same model, data and settings: 94.5% for
//! seed 0). Writes the loss and accuracy curves to `out/mnist_rnn.png`.
//!
//! ```text
//! cargo run --release --example mnist_rnn              # full run
//! cargo run --example mnist_rnn -- --quick             # CI smoke run: 1 epoch, 500 digits
//! cargo run --release --example mnist_rnn -- --seed 3  # another seed (weights and shuffling)
//! ```

use std::time::Instant;

use sxima::prelude::*;

model! {
    /// A digit as a sequence: row `t` of the image is step `t`.
    pub MnistRnn(input: [28, 28]) {
        // 4 gates x 128 x (28 + 128) weights + 2 x 4 x 128 biases = 80,896.
        lstm: Lstm(128) -> [128],
        fc: Dense(10),
    }
}

fn main() -> sxima::Result<()> {
    sxima::runtime::tune_host_allocator();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(0);
    let mnist = mnist::load(mnist::default_dir())?;
    // The bundled digits are [1, 28, 28]; the model reads them as [28, 28].
    let (train, test) = if quick {
        (mnist.train.take(500), mnist.test.take(200))
    } else {
        (mnist.train, mnist.test)
    };
    let epochs = if quick { 1 } else { 10 };

    println!("{}", MnistRnn::<f32, Cpu>::summary());

    let dev = Cpu::seed_from_u64(seed);
    let mut model = MnistRnn::<f32, Cpu>::build(&dev);
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
    history.plot("out/mnist_rnn.png")?;
    println!("loss and accuracy curves: out/mnist_rnn.png");
    Ok(())
}
