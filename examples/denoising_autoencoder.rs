//! The lecture's convolutional denoising autoencoder on the bundled MNIST
//! digits. Inputs are digits with Gaussian noise,
//! `clip(x + 0.5 * N(0, 1), 0, 1)` (the Keras tutorial's noise factor); the
//! target is the clean digit. The encoder (two conv-ReLU-pool stages,
//! `[1, 28, 28] -> [32, 7, 7]`) and the decoder (conv-ReLU-upsample twice,
//! then a sigmoid conv back to `[1, 28, 28]`) are separate `model!` types,
//! nested in `DenoisingAutoencoder`. Trained with binary cross-entropy and
//! Adam (lr 1e-3, batch 64).
//!
//! Prints the test BCE (and MSE) of the denoised digits and, for comparison,
//! of the noisy inputs themselves (both against the clean digits; a noisy
//! pixel clipped to 0 or 1 where the clean one is the opposite costs the
//! clamped maximum of 100 in BCE, which is why the noisy BCE is large), and writes
//! `out/denoising_autoencoder.png` (noisy / denoised / clean test digits) and
//! `out/denoising_autoencoder_loss.png` (loss curves).
//!
//! ```text
//! cargo run --release --example denoising_autoencoder            # full run
//! cargo run --example denoising_autoencoder -- --quick           # CI smoke run: 1 epoch, 500 digits
//! cargo run --release --example denoising_autoencoder -- --seed 3  # another seed (noise, weights, shuffling)
//! ```

use std::time::Instant;

use sxima::prelude::*;
use sxima::train::image_grid;

model! {
    /// Two conv-ReLU-pool stages: a 28x28 digit to 32 feature maps of 7x7.
    pub Encoder(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel = 3, padding = same),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(32, kernel = 3, padding = same),
        ReLU,
        MaxPool2d(2),
    }

    /// Back from 32 maps of 7x7 to one 28x28 image of probabilities.
    pub Decoder(input: [32, 7, 7]) {
        conv1: Conv2d(32, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv2: Conv2d(32, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv3: Conv2d(1, kernel = 3, padding = same),
        Sigmoid,
    }

    /// The encoder followed by the decoder.
    pub DenoisingAutoencoder(input: [1, 28, 28]) {
        encoder: Encoder -> [32, 7, 7],
        decoder: Decoder -> [1, 28, 28],
    }
}

/// Pixels per digit.
const PIXELS: usize = 28 * 28;
/// Standard deviation of the Gaussian noise added to the digits.
const NOISE: f32 = 0.5;
/// Test digits shown in the picture.
const SHOWN: usize = 10;

/// A dataset of noisy digits (features) and their clean versions (targets,
/// 784 values each). The noise is drawn from a device seeded with `seed`.
fn noisy(clean: &Dataset, seed: u64) -> sxima::Result<Dataset> {
    let n = clean.len();
    let rng = Cpu::seed_from_u64(seed);
    let noise: Tensor<(usize, Const<PIXELS>), f32, Cpu> = rng.sample_normal_like(&(n, Const));
    let features: Vec<f32> = clean
        .features()
        .iter()
        .zip(noise.as_vec())
        .map(|(x, z)| (x + NOISE * z).clamp(0.0, 1.0))
        .collect();
    Dataset::with_values(features, &[1, 28, 28], PIXELS, clean.features().to_vec())
}

/// Mean binary cross-entropy of `pred` (probabilities) against `target`,
/// each log clamped at -100 as in [`Bce`].
fn bce(pred: &[f32], target: &[f32]) -> f64 {
    let sum: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| {
            let (p, t) = (p as f64, t as f64);
            -(t * p.ln().max(-100.0) + (1.0 - t) * (1.0 - p).ln().max(-100.0))
        })
        .sum();
    sum / pred.len() as f64
}

/// Mean squared error of `pred` against `target`.
fn mse(pred: &[f32], target: &[f32]) -> f64 {
    let sum: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum();
    sum / pred.len() as f64
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
        (mnist.train.take(500), mnist.test.take(200))
    } else {
        (mnist.train, mnist.test)
    };
    // Different seeds for the training and test noise, so the test digits
    // are never seen with the same noise.
    let train = noisy(&train, seed.wrapping_mul(2))?;
    let test = noisy(&test, seed.wrapping_mul(2).wrapping_add(1))?;
    let epochs = if quick { 1 } else { 10 };

    println!("{}", DenoisingAutoencoder::<f32, Cpu>::summary());

    let dev = Cpu::seed_from_u64(seed);
    let mut model = DenoisingAutoencoder::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;

    let start = Instant::now();
    let history = fit(
        &mut model,
        &mut opt,
        &Bce,
        &train,
        FitConfig::new()
            .epochs(epochs)
            .batch_size(64)
            .seed(seed)
            .validation_data(&test),
        &mut [],
    )?;
    let seconds = start.elapsed().as_secs_f64();

    let Targets::Values { data: clean, .. } = test.targets() else {
        unreachable!("noisy() builds value targets");
    };
    let denoised_bce = evaluate(&model, &Bce, &test, 256)?.loss;
    let denoised_mse = evaluate(&model, &Mse, &test, 256)?.loss;
    println!(
        "trained {} epoch(s) on {} digits in {seconds:.1}s",
        history.epochs.len(),
        train.len()
    );
    println!("against the clean digits, on {} test digits:", test.len());
    println!(
        "  denoised output  BCE {denoised_bce:.4}  MSE {denoised_mse:.4}\n  \
         noisy input      BCE {:.4}  MSE {:.4}",
        bce(test.features(), clean),
        mse(test.features(), clean)
    );

    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    let shown = SHOWN.min(test.len());
    let inputs = &test.features()[..shown * PIXELS];
    let outputs = predict(&model, inputs, shown)?;
    let rows = [
        ("noisy", inputs.chunks(PIXELS).collect::<Vec<_>>()),
        ("denoised", outputs.iter().map(Vec::as_slice).collect()),
        ("clean", clean[..shown * PIXELS].chunks(PIXELS).collect()),
    ];
    image_grid("out/denoising_autoencoder.png", &rows, 28, 28, 3)?;
    history.plot("out/denoising_autoencoder_loss.png")?;
    println!("noisy / denoised / clean test digits: out/denoising_autoencoder.png");
    println!("loss curves: out/denoising_autoencoder_loss.png");
    Ok(())
}
