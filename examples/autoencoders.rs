//! The lecture's autoencoder family and the VAE on the bundled MNIST digits
//! (first 8,000 train, last 2,000 test, pixels in [0, 1]):
//!
//! * **undercomplete** AE 784-256-2-256-784 (a 2-D code, compared with PCA),
//! * a 784-64-784 AE with a **sigmoid code**, three times: plain, **sparse**
//!   (`regularize { code: sparsity_kl(rho = 0.05, ..) }`) and
//!   **contractive** (`regularize { enc: contractive(..) }`, the squared
//!   Frobenius norm of the encoder's Jacobian),
//! * **denoising** AE (the convolutional AE below, noisy input
//!   `clip(x + 0.5 N(0, 1), 0, 1)` -> clean digit),
//! * **convolutional** AE (`[1, 28, 28] -> [8, 7, 7] -> [1, 28, 28]`),
//! * **VAE** 784-256-`gaussian { mu, logvar }` (2-D) and 2-256-784, BCE
//!   summed over pixels + KL, Adam.
//!
//! Every model is a `model!` declaration (`reconstructs` checks at compile
//! time that the output has the input's shape) and trains with `fit`, which
//! adds the penalties the model declares (sparsity, contractive, the VAE's
//! KL) to the loss. Decoders end in logits; the loss is binary cross-entropy
//! with logits, and a sigmoid on the output gives the pictures' pixels.
//!
//! Prints one line per variant: the test reconstruction error (MSE per
//! pixel, the same measure for all), the mean-digit baseline's, the code
//! size, the penalty's value on the test digits (`evaluate_terms`), and the
//! k-NN accuracy (k = 5, train codes as the reference) of 2-D codes beside
//! PCA's. Then the sparse AE's mean code activation against rho (with and
//! without the penalty), the mean squared Frobenius norm of the encoder
//! Jacobian on test digits (contractive vs plain), and the VAE's ELBO per
//! epoch. Writes `out/autoencoders_codes.{png,svg}` (2-D codes of the test
//! digits: AE, VAE, PCA), `out/autoencoders_reconstructions.png`,
//! `out/autoencoders_samples.png` (VAE samples from the prior) and
//! `out/autoencoders_interpolation.png`.
//!
//! ```text
//! cargo run --release --example autoencoders             # full run
//! cargo run --example autoencoders -- --quick            # CI smoke run: 500 digits, 1 epoch
//! cargo run --release --example autoencoders -- --seed 3 # another seed
//! ```

use std::time::Instant;

use sxima::analysis::{knn_accuracy, plot_codes, Pca};
use sxima::prelude::*;
use sxima::runtime::penalty::contractive_sigmoid_dense;
use sxima::train::{evaluate_terms, image_grid, image_tiles, History};

model! {
    /// Undercomplete encoder: a digit to a 2-D code.
    pub Encoder2(input: [784]) {
        fc1: Dense(256),
        ReLU,
        code: Dense(2),
    }

    /// Decoder from a 2-D code back to 784 pixel logits.
    pub Decoder2(input: [2]) {
        fc1: Dense(256),
        ReLU,
        fc2: Dense(784),
    }

    /// The undercomplete autoencoder 784-256-2-256-784.
    pub Autoencoder(input: [784], reconstructs) {
        encoder: Encoder2 -> [2],
        decoder: Decoder2 -> [784],
    }

    /// A sigmoid dense encoder: a digit to 64 activations in (0, 1).
    pub SigmoidEncoder(input: [784]) {
        enc: Dense(64),
        code: Sigmoid,
    }

    /// The same encoder with the KL sparsity penalty on its code.
    pub SparseEncoder(input: [784]) {
        enc: Dense(64),
        code: Sigmoid,
    } regularize {
        code: sparsity_kl(rho = 0.05, weight = 0.03),
    }

    /// The same encoder with the contractive penalty on its Jacobian.
    pub ContractiveEncoder(input: [784]) {
        enc: Dense(64),
        code: Sigmoid,
    } regularize {
        enc: contractive(weight = 0.003),
    }

    /// 64 activations back to 784 pixel logits.
    pub SigmoidDecoder(input: [64]) {
        fc: Dense(784),
    }

    /// 784-64-784, plain.
    pub SigmoidAutoencoder(input: [784], reconstructs) {
        encoder: SigmoidEncoder -> [64],
        decoder: SigmoidDecoder -> [784],
    }

    /// 784-64-784 with the sparsity penalty.
    pub SparseAutoencoder(input: [784], reconstructs) {
        encoder: SparseEncoder -> [64],
        decoder: SigmoidDecoder -> [784],
    }

    /// 784-64-784 with the contractive penalty.
    pub ContractiveAutoencoder(input: [784], reconstructs) {
        encoder: ContractiveEncoder -> [64],
        decoder: SigmoidDecoder -> [784],
    }

    /// Convolutional encoder: `[1, 28, 28]` to an `[8, 7, 7]` code.
    pub ConvEncoder(input: [1, 28, 28]) {
        conv1: Conv2d(16, kernel = 3, padding = same),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(8, kernel = 3, padding = same),
        ReLU,
        MaxPool2d(2),
    }

    /// Convolutional decoder: `[8, 7, 7]` back to a digit's logits.
    pub ConvDecoder(input: [8, 7, 7]) {
        conv1: Conv2d(16, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv2: Conv2d(16, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv3: Conv2d(1, kernel = 3, padding = same),
    }

    /// The convolutional autoencoder.
    pub ConvAutoencoder(input: [1, 28, 28], reconstructs) {
        encoder: ConvEncoder -> [8, 7, 7],
        decoder: ConvDecoder -> [1, 28, 28],
    }

    /// The VAE's encoder: 784-256, then a Gaussian code of 2 units. The
    /// training forward samples `z = mu + exp(logvar / 2) * eps` and adds
    /// the KL divergence to N(0, I) to the loss; inference returns `mu`.
    pub VaeEncoder(input: [784]) {
        fc1: Dense(256),
        ReLU,
        z: gaussian { mu { Dense(2) } logvar { Dense(2) } },
    }

    /// The VAE: Gaussian encoder and the 2-256-784 decoder.
    pub Vae(input: [784], reconstructs) {
        encoder: VaeEncoder -> [2],
        decoder: Decoder2 -> [784],
    }
}

/// Pixels per digit.
const PIXELS: usize = 28 * 28;
/// Neighbours of the k-NN accuracy.
const K: usize = 5;
/// Target mean activation of the sparse code (as in `SparseEncoder`).
const RHO: f64 = 0.05;
/// Standard deviation of the denoising AE's Gaussian noise.
const NOISE: f32 = 0.5;
/// Mini-batch size of every variant.
const BATCH: usize = 64;
/// Digits shown in the reconstructions grid.
const SHOWN: usize = 10;

/// One line of the results table.
struct Row {
    name: &'static str,
    mse: f64,
    code: usize,
    penalty: String,
    knn: Option<f64>,
}

fn mse(pred: &[f32], target: &[f32]) -> f64 {
    let s: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum();
    s / pred.len() as f64
}

fn flat(rows: Vec<Vec<f32>>) -> Vec<f32> {
    rows.into_iter().flatten().collect()
}

/// Pixel probabilities of a decoder's logits (one `Vec` per digit), flat.
fn pixels(logits: Vec<Vec<f32>>) -> Vec<f32> {
    logits
        .into_iter()
        .flatten()
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect()
}

/// An autoencoder dataset: `features` (samples of `shape`) and `targets`
/// (784 pixels each).
fn pairs(features: Vec<f32>, shape: &[usize], targets: Vec<f32>) -> sxima::Result<Dataset> {
    Dataset::with_values(features, shape, PIXELS, targets)
}

/// `clip(x + NOISE * N(0, 1), 0, 1)` for every pixel, noise from `seed`.
fn add_noise(clean: &[f32], seed: u64) -> Vec<f32> {
    let rng = Cpu::seed_from_u64(seed);
    let noise: Tensor<(usize,), f32, Cpu> = rng.sample_normal_like(&(clean.len(),));
    clean
        .iter()
        .zip(noise.as_vec())
        .map(|(x, z)| (x + NOISE * z).clamp(0.0, 1.0))
        .collect()
}

fn adam() -> sxima::Result<Adam> {
    Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })
}

/// The one penalty term of an evaluation (the term that is not the loss).
fn penalty_term(terms: &std::collections::BTreeMap<String, f64>, loss: &str) -> (String, f64) {
    terms
        .iter()
        .find(|(name, _)| name.as_str() != loss)
        .map_or(("-".into(), f64::NAN), |(n, v)| (n.clone(), *v))
}

/// Mean squared Frobenius norm of `dh/dx` of a sigmoid dense encoder with
/// weight `w` (`[64, 784]`) on codes `h` (one `Vec` of 64 per digit): the
/// contractive penalty itself ([`contractive_sigmoid_dense`]), evaluated
/// without a tape.
fn jacobian_norm(h: &[Vec<f32>], w: &Tensor<Rank2<64, PIXELS>, f32, Cpu>) -> sxima::Result<f64> {
    let dev = w.device().clone();
    let codes = dev.tensor_from_vec(flat(h.to_vec()), (h.len(), 64));
    let weight = dev.tensor_from_vec(w.as_vec(), (64, PIXELS));
    Ok(contractive_sigmoid_dense(codes, weight)?.array() as f64)
}

/// Mean of every value of the codes.
fn mean_of(h: &[Vec<f32>]) -> f64 {
    let n: usize = h.iter().map(Vec::len).sum();
    h.iter().flatten().map(|&v| v as f64).sum::<f64>() / n as f64
}

fn main() -> sxima::Result<()> {
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
    // Epochs: (undercomplete and VAE, the 64-unit AEs, convolutional and denoising).
    let (long, mid, conv_epochs) = if quick { (1, 1, 1) } else { (20, 30, 5) };
    let labels = |d: &Dataset| -> sxima::Result<Vec<usize>> {
        d.labels()
            .map(<[usize]>::to_vec)
            .ok_or_else(|| sxima::Error::data("MNIST", "class labels", "value targets"))
    };
    let (train_labels, test_labels) = (labels(&train)?, labels(&test)?);
    let (xtr, xte) = (train.features().to_vec(), test.features().to_vec());
    let ae_train = pairs(xtr.clone(), &[PIXELS], xtr.clone())?;
    let ae_test = pairs(xte.clone(), &[PIXELS], xte.clone())?;
    println!(
        "{} train / {} test digits; epochs: {long} (AE 2-D, VAE), {mid} (64-unit AEs), {conv_epochs} (conv and denoising AEs)",
        train.len(),
        test.len()
    );

    // Baselines: the mean training digit, and PCA's 2-D projection.
    let mut mean_digit = vec![0.0f32; PIXELS];
    for x in xtr.chunks(PIXELS) {
        mean_digit.iter_mut().zip(x).for_each(|(m, v)| *m += v);
    }
    mean_digit.iter_mut().for_each(|m| *m /= train.len() as f32);
    let baseline = mse(&mean_digit.repeat(test.len()), &xte);
    let start = Instant::now();
    let pca = Pca::fit(&xtr, PIXELS, 2)?;
    let pca_seconds = start.elapsed().as_secs_f64();
    let (pca_tr, pca_te) = (pca.transform(&xtr)?, pca.transform(&xte)?);
    let pca_knn = knn_accuracy(&pca_tr, &train_labels, &pca_te, &test_labels, 2, K)?;
    let pca_mse = mse(&pca.inverse_transform(&pca_te)?, &xte);
    println!(
        "PCA 2-D: fitted in {pca_seconds:.3}s, variances {:.3} {:.3}, test MSE {pca_mse:.4}, {K}-NN accuracy {:.1}%",
        pca.variances()[0],
        pca.variances()[1],
        100.0 * pca_knn
    );
    let mut rows = vec![Row {
        name: "PCA (2 axes)",
        mse: pca_mse,
        code: 2,
        penalty: "-".into(),
        knn: Some(pca_knn),
    }];
    let shown = SHOWN.min(test.len());
    let mut pictures: Vec<(&str, Vec<f32>)> = vec![("input", xte[..shown * PIXELS].to_vec())];
    let dev = Cpu::seed_from_u64(seed);
    let quiet = |epochs| {
        FitConfig::new()
            .epochs(epochs)
            .batch_size(BATCH)
            .seed(seed)
            .verbosity(sxima::train::Verbosity::Silent)
    };

    // 1. Undercomplete AE with a 2-D code.
    let t0 = Instant::now();
    let mut ae = Autoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut ae,
        &mut adam()?,
        &BceWithLogits,
        &ae_train,
        quiet(long),
        &mut [],
    )?;
    let recon = pixels(predict(&ae, &xte, 256)?);
    let (ae_tr, ae_te) = (
        flat(predict(&ae.encoder, &xtr, 256)?),
        flat(predict(&ae.encoder, &xte, 256)?),
    );
    let ae_knn = knn_accuracy(&ae_tr, &train_labels, &ae_te, &test_labels, 2, K)?;
    rows.push(Row {
        name: "undercomplete AE",
        mse: mse(&recon, &xte),
        code: 2,
        penalty: "-".into(),
        knn: Some(ae_knn),
    });
    pictures.push(("AE (2-D)", recon[..shown * PIXELS].to_vec()));
    println!(
        "undercomplete AE trained in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // 2. The 64-unit sigmoid AE: plain, sparse, contractive.
    let t0 = Instant::now();
    let mut plain = SigmoidAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut plain,
        &mut adam()?,
        &BceWithLogits,
        &ae_train,
        quiet(mid),
        &mut [],
    )?;
    let plain_recon = pixels(predict(&plain, &xte, 256)?);
    let plain_codes = predict(&plain.encoder, &xte, 256)?;
    let plain_jac = jacobian_norm(&plain_codes, &plain.encoder.enc.weight)?;
    let plain_act = mean_of(&plain_codes);
    rows.push(Row {
        name: "sigmoid AE (plain)",
        mse: mse(&plain_recon, &xte),
        code: 64,
        penalty: "-".into(),
        knn: None,
    });
    pictures.push(("sigmoid AE", plain_recon[..shown * PIXELS].to_vec()));

    let mut sparse = SparseAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut sparse,
        &mut adam()?,
        &BceWithLogits,
        &ae_train,
        quiet(mid),
        &mut [],
    )?;
    let sparse_recon = pixels(predict(&sparse, &xte, 256)?);
    let sparse_act = mean_of(&predict(&sparse.encoder, &xte, 256)?);
    let (name, value) = penalty_term(
        &evaluate_terms(&sparse, &BceWithLogits, &ae_test, 256)?.terms,
        "bce_with_logits",
    );
    rows.push(Row {
        name: "sparse AE",
        mse: mse(&sparse_recon, &xte),
        code: 64,
        penalty: format!("{name} {value:.4}"),
        knn: None,
    });
    pictures.push(("sparse AE", sparse_recon[..shown * PIXELS].to_vec()));

    let mut cae = ContractiveAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut cae,
        &mut adam()?,
        &BceWithLogits,
        &ae_train,
        quiet(mid),
        &mut [],
    )?;
    let cae_recon = pixels(predict(&cae, &xte, 256)?);
    let cae_jac = jacobian_norm(&predict(&cae.encoder, &xte, 256)?, &cae.encoder.enc.weight)?;
    let (name, value) = penalty_term(
        &evaluate_terms(&cae, &BceWithLogits, &ae_test, 256)?.terms,
        "bce_with_logits",
    );
    rows.push(Row {
        name: "contractive AE",
        mse: mse(&cae_recon, &xte),
        code: 64,
        penalty: format!("{name} {value:.4}"),
        knn: None,
    });
    pictures.push(("contractive AE", cae_recon[..shown * PIXELS].to_vec()));
    println!(
        "plain, sparse and contractive AEs trained in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // 3. Denoising: the convolutional AE, noisy input -> clean target. (The
    // 784-64-784 sigmoid net learnt little more than the mean digit here:
    // test MSE 0.0640 against the baseline's 0.0676 after 30 epochs.)
    let t0 = Instant::now();
    let noisy_tr = add_noise(&xtr, seed.wrapping_mul(2));
    let noisy_te = add_noise(&xte, seed.wrapping_mul(2).wrapping_add(1));
    let mut dae = ConvAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut dae,
        &mut adam()?,
        &BceWithLogits,
        &pairs(noisy_tr, &[1, 28, 28], xtr.clone())?,
        quiet(conv_epochs),
        &mut [],
    )?;
    let denoised = pixels(predict(&dae, &noisy_te, 256)?);
    let noisy_mse = mse(&noisy_te, &xte);
    rows.push(Row {
        name: "denoising AE (conv)",
        mse: mse(&denoised, &xte),
        code: 8 * 7 * 7,
        penalty: format!("noisy input MSE {noisy_mse:.4}"),
        knn: None,
    });
    pictures.push(("noisy input", noisy_te[..shown * PIXELS].to_vec()));
    pictures.push(("denoised", denoised[..shown * PIXELS].to_vec()));
    println!("denoising AE trained in {:.1}s", t0.elapsed().as_secs_f64());

    // 4. Convolutional.
    let t0 = Instant::now();
    let mut cnn = ConvAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut cnn,
        &mut adam()?,
        &BceWithLogits,
        &pairs(xtr.clone(), &[1, 28, 28], xtr.clone())?,
        quiet(conv_epochs),
        &mut [],
    )?;
    let conv_recon = pixels(predict(&cnn, &xte, 256)?);
    rows.push(Row {
        name: "convolutional AE",
        mse: mse(&conv_recon, &xte),
        code: 8 * 7 * 7,
        penalty: "-".into(),
        knn: None,
    });
    pictures.push(("conv AE", conv_recon[..shown * PIXELS].to_vec()));
    println!(
        "convolutional AE trained in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // 5. VAE: BCE summed over the pixels, plus the Gaussian code's KL term.
    let t0 = Instant::now();
    let mut vae = Vae::<f32, Cpu>::build(&dev);
    let vae_loss = BceWithLogits.summed();
    let vae_history: History = fit(
        &mut vae,
        &mut adam()?,
        &vae_loss,
        &ae_train,
        quiet(long),
        &mut [],
    )?;
    let (vae_tr, vae_te) = (
        flat(predict(&vae.encoder, &xtr, 256)?),
        flat(predict(&vae.encoder, &xte, 256)?),
    );
    let vae_knn = knn_accuracy(&vae_tr, &train_labels, &vae_te, &test_labels, 2, K)?;
    let decode = |codes: &[f32]| -> sxima::Result<Vec<f32>> {
        Ok(pixels(predict(&vae.decoder, codes, 256)?))
    };
    let vae_recon = decode(&vae_te)?;
    let vae_eval = evaluate_terms(&vae, &vae_loss, &ae_test, 256)?;
    let (name, value) = penalty_term(&vae_eval.terms, "bce_with_logits_sum");
    rows.push(Row {
        name: "VAE (mu)",
        mse: mse(&vae_recon, &xte),
        code: 2,
        penalty: format!("{name} {value:.3}"),
        knn: Some(vae_knn),
    });
    pictures.push(("VAE (mu)", vae_recon[..shown * PIXELS].to_vec()));
    println!("VAE trained in {:.1}s", t0.elapsed().as_secs_f64());

    // The table.
    println!(
        "\n{:<20} {:>10} {:>10} {:>5}  {:<26} {:>9} {:>9}",
        "variant", "test MSE", "mean-digit", "code", "penalty (test)", "5-NN", "PCA 5-NN"
    );
    for r in &rows {
        let knn = r
            .knn
            .map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a));
        let pca = if r.knn.is_some() {
            format!("{:.1}%", 100.0 * pca_knn)
        } else {
            "-".into()
        };
        println!(
            "{:<20} {:>10.4} {:>10.4} {:>5}  {:<26} {:>9} {:>9}",
            r.name, r.mse, baseline, r.code, r.penalty, knn, pca
        );
    }
    println!(
        "\nsparse code: mean activation on test digits {sparse_act:.4} with the penalty, {plain_act:.4} without (rho = {RHO})"
    );
    println!(
        "encoder Jacobian, mean squared Frobenius norm on test digits: contractive {cae_jac:.4}, plain {plain_jac:.4}"
    );
    let elbo: Vec<String> = vae_history
        .epochs
        .iter()
        .map(|e| format!("{:.2}", -e.loss))
        .collect();
    println!(
        "VAE ELBO per epoch (train, nats per digit): {}",
        elbo.join(" ")
    );
    println!(
        "VAE test: ELBO {:.2} (BCE sum {:.2} + KL {:.3}, one sampled code per digit)",
        -vae_eval.loss,
        vae_eval
            .terms
            .get("bce_with_logits_sum")
            .copied()
            .unwrap_or(f64::NAN),
        value
    );

    // Pictures.
    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    let codes = [
        ("autoencoder (2-D code)", &ae_te[..]),
        ("VAE (mu)", &vae_te[..]),
        ("PCA (2 axes)", &pca_te[..]),
    ];
    plot_codes("out/autoencoders_codes.png", &codes, &test_labels)?;
    plot_codes("out/autoencoders_codes.svg", &codes, &test_labels)?;
    let grid: Vec<(&str, Vec<&[f32]>)> = pictures
        .iter()
        .map(|(name, imgs)| (*name, imgs.chunks(PIXELS).collect()))
        .collect();
    image_grid("out/autoencoders_reconstructions.png", &grid, 28, 28, 2)?;
    let prior: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(100, 2));
    let samples = decode(&prior.as_vec())?;
    let sample_refs: Vec<&[f32]> = samples.chunks(PIXELS).collect();
    image_tiles("out/autoencoders_samples.png", &sample_refs, 10, 28, 28, 2)?;
    // Interpolation between the first test digits of two different classes.
    let a = 0;
    let b = (1..test.len())
        .find(|&i| test_labels[i] != test_labels[a])
        .unwrap_or(a);
    let (za, zb) = (&vae_te[2 * a..2 * a + 2], &vae_te[2 * b..2 * b + 2]);
    let steps = 10;
    let path: Vec<f32> = (0..steps)
        .flat_map(|s| {
            let f = s as f32 / (steps - 1) as f32;
            [za[0] + f * (zb[0] - za[0]), za[1] + f * (zb[1] - za[1])]
        })
        .collect();
    let strip = decode(&path)?;
    let mut row: Vec<&[f32]> = vec![&xte[a * PIXELS..(a + 1) * PIXELS]];
    row.extend(strip.chunks(PIXELS));
    row.push(&xte[b * PIXELS..(b + 1) * PIXELS]);
    let label = format!("{} -> {}", test_labels[a], test_labels[b]);
    image_grid(
        "out/autoencoders_interpolation.png",
        &[(label.as_str(), row)],
        28,
        28,
        3,
    )?;
    println!(
        "\npictures: out/autoencoders_codes.png (.svg), out/autoencoders_reconstructions.png, \
         out/autoencoders_samples.png, out/autoencoders_interpolation.png"
    );
    Ok(())
}
