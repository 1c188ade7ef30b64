//! The lecture's autoencoder family and the VAE on the bundled MNIST digits
//! (first 8,000 train, last 2,000 test, pixels in [0, 1]):
//!
//! * **undercomplete** AE 784-256-2-256-784 (a 2-D code, compared with PCA),
//! * **sigmoid AE** 784-64-784 with a sigmoid code, trained three ways:
//!   plain, **sparse** (KL sparsity penalty, target rho = 0.05) and
//!   **contractive** (squared Frobenius norm of the encoder's Jacobian),
//! * **denoising** AE (the same 784-64-784 net, noisy input -> clean digit),
//! * **convolutional** AE (`[1, 28, 28] -> [8, 7, 7] -> [1, 28, 28]`),
//! * **VAE** 784-256-(mu, logvar: 2) and 2-256-784, BCE summed over pixels +
//!   KL, Adam.
//!
//! Prints one line per variant: the test reconstruction error (MSE per
//! pixel, the same measure for all), the mean-digit baseline's, the code
//! size, the penalty's value on the test digits, and the k-NN accuracy
//! (k = 5, train codes as the reference) of 2-D codes beside PCA's. Then the
//! sparse AE's mean code activation against rho (with and without the
//! penalty), the mean squared Frobenius norm of the encoder Jacobian on test
//! digits (contractive vs plain), and the VAE's ELBO per epoch. Writes
//! `out/autoencoders_codes.{png,svg}` (2-D codes of the test digits: AE, VAE,
//! PCA), `out/autoencoders_reconstructions.png`, `out/autoencoders_samples.png`
//! (VAE samples from the prior) and `out/autoencoders_interpolation.png`.
//!
//! Decoders end in logits; every variant trains on binary cross-entropy
//! with logits (a sigmoid on the output gives the pictures' pixels). The
//! undercomplete, denoising and convolutional AEs train with `fit`; the penalised variants and the VAE add their
//! penalty to the loss in a short loop here (`train_with`), with the
//! penalty functions of `sxima::runtime::penalty`.
//!
//! ```text
//! cargo run --release --example autoencoders             # full run
//! cargo run --example autoencoders -- --quick            # CI smoke run: 500 digits, 1 epoch
//! cargo run --release --example autoencoders -- --seed 3 # another seed
//! ```

use std::time::Instant;

use sxima::analysis::{knn_accuracy, plot_codes, Pca};
use sxima::loss::Target;
use sxima::prelude::*;
use sxima::runtime::penalty::{
    contractive_sigmoid_dense, gaussian_kl, reparameterize, sparsity_kl,
};
use sxima::train::{image_grid, image_tiles};

model! {
    /// Undercomplete encoder: a digit to a 2-D code.
    pub Encoder2(input: [1, 28, 28]) {
        Flatten,
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
    pub Autoencoder(input: [1, 28, 28]) {
        encoder: Encoder2 -> [2],
        decoder: Decoder2 -> [784],
    }

    /// A sigmoid dense encoder: a digit to 64 activations in (0, 1).
    pub SigmoidEncoder(input: [1, 28, 28]) {
        Flatten,
        code: Dense(64),
        Sigmoid,
    }

    /// 64 activations back to 784 pixel logits.
    pub SigmoidDecoder(input: [64]) {
        fc: Dense(784),
    }

    /// 784-64-784 with a sigmoid code: the plain, sparse, contractive and
    /// denoising autoencoders.
    pub SigmoidAutoencoder(input: [1, 28, 28]) {
        encoder: SigmoidEncoder -> [64],
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

    /// Convolutional decoder: `[8, 7, 7]` back to a digit's 784 logits.
    pub ConvDecoder(input: [8, 7, 7]) {
        conv1: Conv2d(16, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv2: Conv2d(16, kernel = 3, padding = same),
        ReLU,
        UpSampling2d(2),
        conv3: Conv2d(1, kernel = 3, padding = same),
        Flatten,
    }

    /// The convolutional autoencoder.
    pub ConvAutoencoder(input: [1, 28, 28]) {
        encoder: ConvEncoder -> [8, 7, 7],
        decoder: ConvDecoder -> [784],
    }

    /// The VAE's encoder: 784-256, then two heads side by side, `[mu (2),
    /// logvar (2)]`.
    pub VaeEncoder(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(256),
        ReLU,
        heads: parallel(concat) {
            mu { Dense(2) }
            logvar { Dense(2) }
        } -> [4],
    }
}

/// The VAE: its encoder and its decoder, trained together (the decoder runs
/// on codes sampled between the two, so they are not one sequential model;
/// a pair of modules is one parameter collection for the optimizer).
type Vae = (VaeEncoder<f32, Cpu>, Decoder2<f32, Cpu>);

/// Pixels per digit.
const PIXELS: usize = 28 * 28;
/// Neighbours of the k-NN accuracy.
const K: usize = 5;
/// Target mean activation of the sparse code.
const RHO: f64 = 0.05;
/// Weight of the KL sparsity penalty (the reconstruction is a per-pixel mean).
const SPARSITY_WEIGHT: f64 = 0.01;
/// Weight of the contractive penalty.
const CONTRACTIVE_WEIGHT: f64 = 0.02;
/// Standard deviation of the denoising AE's Gaussian noise.
const NOISE: f32 = 0.5;
/// Mini-batch size of every variant.
const BATCH: usize = 64;
/// Digits shown in the reconstructions grid.
const SHOWN: usize = 10;

type Taped<S> = Tensor<S, f32, Cpu, OwnedTape<f32, Cpu>>;
type Digits<T> = Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, Cpu, T>;

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

/// The autoencoder dataset of `features`: each digit is its own target.
fn reconstruct(features: Vec<f32>, targets: Vec<f32>) -> sxima::Result<Dataset> {
    Dataset::with_values(features, &[1, 28, 28], PIXELS, targets)
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

/// Trains `model` for `epochs` on `data` (value targets of 784 pixels) with
/// Adam on the scalar `loss(model, input, target)` returns for each
/// mini-batch: the training forward plus whatever penalty the variant adds.
/// Returns the mean loss of each epoch.
fn train_with<M>(
    model: &mut M,
    dev: &Cpu,
    data: &Dataset,
    epochs: usize,
    seed: u64,
    mut loss: impl FnMut(
        &mut M,
        Digits<OwnedTape<f32, Cpu>>,
        Tensor<(usize, usize), f32, Cpu>,
    ) -> sxima::Result<Taped<Rank0>>,
) -> sxima::Result<Vec<f64>>
where
    M: TensorCollection<f32, Cpu>,
    Adam: Optimizer<M, f32, Cpu>,
{
    let mut opt = adam()?;
    let mut grads = model.alloc_grads();
    let mut per_epoch = Vec::with_capacity(epochs);
    for epoch in 0..epochs {
        let (mut sum, mut n) = (0.0f64, 0usize);
        for batch in data.batches(BATCH, Some((seed, epoch)))? {
            let b = batch.len();
            let Targets::Values { data: t, .. } = batch.targets else {
                return Err(sxima::Error::data(
                    "autoencoder data",
                    "value targets",
                    "classes",
                ));
            };
            let x = dev.tensor_from_vec(batch.features, (b, Const, Const, Const));
            let t = dev.tensor_from_vec(t, (b, PIXELS));
            let l = loss(model, x.traced(grads), t)?;
            let v = l.array() as f64;
            if !v.is_finite() {
                return Err(sxima::Error::data(
                    format!("training loss, epoch {}", epoch + 1),
                    "a finite value",
                    format!("{v}"),
                ));
            }
            sum += v * b as f64;
            n += b;
            grads = l.backward();
            opt.step_and_zero(model, &mut grads)?;
        }
        per_epoch.push(sum / n as f64);
    }
    Ok(per_epoch)
}

/// Mean binary cross-entropy per pixel of `logits` against `t`, on the tape.
fn bce(
    logits: Taped<(usize, Const<PIXELS>)>,
    t: &Tensor<(usize, usize), f32, Cpu>,
) -> sxima::Result<Taped<Rank0>> {
    BceWithLogits.try_loss(logits.realize::<(usize, usize)>(), &Target::Values(t))
}

/// Pixel probabilities of a decoder's logits (one `Vec` per digit), flat.
fn pixels(logits: Vec<Vec<f32>>) -> Vec<f32> {
    logits
        .into_iter()
        .flatten()
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect()
}

/// Training loss of the sigmoid AE: reconstruction BCE plus `weight *`
/// the penalty `penalty(h, encoder weight)` computes on the code `h`.
fn sigmoid_ae_loss(
    m: &mut SigmoidAutoencoder<f32, Cpu>,
    x: Digits<OwnedTape<f32, Cpu>>,
    t: Tensor<(usize, usize), f32, Cpu>,
    weight: f64,
    penalty: impl Fn(
        Taped<(usize, usize)>,
        Tensor<(usize, usize), f32, Cpu>,
    ) -> sxima::Result<Taped<Rank0>>,
) -> sxima::Result<Taped<Rank0>> {
    let h = m.encoder.try_forward_mut(x)?;
    let (h, tape) = h.split_tape();
    let y = m.decoder.try_forward_mut(h.clone().put_tape(tape))?;
    let (y, tape) = y.split_tape();
    let w = m.encoder.code.weight.clone().realize::<(usize, usize)>();
    let p = penalty(h.put_tape(tape).realize(), w)? * weight as f32;
    let (p, tape) = p.split_tape();
    Ok(bce(y.put_tape(tape), &t)? + p)
}

/// Splits the VAE encoder's `[b, 4]` output into `mu` and `logvar`
/// (`[b, 2]` each), both on the tape: a reshape to `[b, head, 2]` and one
/// `select` per head (never two slices of one tensor, see the dfdx slice
/// note in the design).
fn heads(
    dev: &Cpu,
    out: Taped<(usize, Const<4>)>,
) -> (Tensor<(usize, usize), f32, Cpu>, Taped<(usize, usize)>) {
    let b = out.shape().0;
    let out = out.reshape_like(&(b, Const::<2>, Const::<2>));
    let (out, tape) = out.split_tape();
    let mu = out
        .clone()
        .put_tape(tape)
        .select(dev.tensor_from_vec(vec![0usize; b], (b,)));
    let (mu, tape) = mu.split_tape();
    let logvar = out
        .put_tape(tape)
        .select(dev.tensor_from_vec(vec![1usize; b], (b,)));
    (mu.realize(), logvar.realize())
}

/// The negative ELBO of a batch: BCE summed over pixels plus KL(q(z|x) ||
/// N(0, I)), averaged over the batch; `z` drawn with the device's RNG.
fn vae_loss(
    dev: &Cpu,
    m: &mut Vae,
    x: Digits<OwnedTape<f32, Cpu>>,
    t: Tensor<(usize, usize), f32, Cpu>,
) -> sxima::Result<Taped<Rank0>> {
    let b = x.shape().0;
    let (mu, logvar) = heads(dev, m.0.try_forward_mut(x)?);
    let (logvar, tape) = logvar.split_tape();
    let eps: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(b, 2));
    let z = reparameterize(mu.clone().put_tape(tape), logvar.clone(), eps)?;
    let (z, tape) = z.split_tape();
    let kl = gaussian_kl(mu, logvar.put_tape(tape))?;
    let (kl, tape) = kl.split_tape();
    let z = z.put_tape(tape).reshape_like(&(b, Const::<2>));
    let y = m.1.try_forward_mut(z)?;
    let y = y.realize::<(usize, usize)>();
    Ok(BceWithLogits.summed().try_loss(y, &Target::Values(&t))? + kl)
}

/// The VAE's code (`mu`) of each digit, `[n, 2]` row-major.
fn vae_encode(m: &Vae, features: &[f32]) -> sxima::Result<Vec<f32>> {
    Ok(predict(&m.0, features, 256)?
        .into_iter()
        .flat_map(|v| [v[0], v[1]])
        .collect())
}

/// Mean squared Frobenius norm of `dh/dx` of the sigmoid encoder on
/// `features`: `mean_b sum_j (h_bj (1 - h_bj))^2 |W_j|^2`.
fn jacobian_norm(m: &SigmoidAutoencoder<f32, Cpu>, features: &[f32]) -> sxima::Result<f64> {
    let h = predict(&m.encoder, features, 256)?;
    let w = m.encoder.code.weight.as_vec();
    let row_sq: Vec<f64> = w
        .chunks(PIXELS)
        .map(|r| r.iter().map(|&v| (v as f64).powi(2)).sum())
        .collect();
    let total: f64 = h
        .iter()
        .map(|code| {
            code.iter()
                .zip(&row_sq)
                .map(|(&a, s)| (a as f64 * (1.0 - a as f64)).powi(2) * s)
                .sum::<f64>()
        })
        .sum();
    Ok(total / h.len() as f64)
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
    // Epochs: (undercomplete and VAE, the 64-unit AEs, convolutional).
    let (long, mid, conv_epochs) = if quick { (1, 1, 1) } else { (20, 10, 5) };
    let labels = |d: &Dataset| -> sxima::Result<Vec<usize>> {
        d.labels()
            .map(<[usize]>::to_vec)
            .ok_or_else(|| sxima::Error::data("MNIST", "class labels", "value targets"))
    };
    let (train_labels, test_labels) = (labels(&train)?, labels(&test)?);
    let (xtr, xte) = (train.features().to_vec(), test.features().to_vec());
    let ae_train = reconstruct(xtr.clone(), xtr.clone())?;
    println!(
        "{} train / {} test digits; epochs: {long} (AE 2-D, VAE), {mid} (64-unit AEs), {conv_epochs} (conv AE)",
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
    let mean_activation = |m: &SigmoidAutoencoder<f32, Cpu>| -> sxima::Result<f64> {
        let h = flat(predict(&m.encoder, &xte, 256)?);
        Ok(h.iter().map(|&v| v as f64).sum::<f64>() / h.len() as f64)
    };
    let t0 = Instant::now();
    let mut plain = SigmoidAutoencoder::<f32, Cpu>::build(&dev);
    train_with(&mut plain, &dev, &ae_train, mid, seed, |m, x, t| {
        let y = m.try_forward_mut(x)?;
        bce(y, &t)
    })?;
    let plain_recon = pixels(predict(&plain, &xte, 256)?);
    let plain_jac = jacobian_norm(&plain, &xte)?;
    let plain_act = mean_activation(&plain)?;
    rows.push(Row {
        name: "sigmoid AE (plain)",
        mse: mse(&plain_recon, &xte),
        code: 64,
        penalty: "-".into(),
        knn: None,
    });
    pictures.push(("sigmoid AE", plain_recon[..shown * PIXELS].to_vec()));

    let mut sparse = SigmoidAutoencoder::<f32, Cpu>::build(&dev);
    train_with(&mut sparse, &dev, &ae_train, mid, seed, |m, x, t| {
        sigmoid_ae_loss(m, x, t, SPARSITY_WEIGHT, |h, _| sparsity_kl(h, RHO))
    })?;
    let sparse_recon = pixels(predict(&sparse, &xte, 256)?);
    let sparse_act = mean_activation(&sparse)?;
    let sparse_kl = {
        let h = flat(predict(&sparse.encoder, &xte, 256)?);
        let h = dev.tensor_from_vec(h, (test.len(), 64usize));
        sparsity_kl(h, RHO)?.array() as f64
    };
    rows.push(Row {
        name: "sparse AE",
        mse: mse(&sparse_recon, &xte),
        code: 64,
        penalty: format!("KL sparsity {sparse_kl:.4}"),
        knn: None,
    });
    pictures.push(("sparse AE", sparse_recon[..shown * PIXELS].to_vec()));

    let mut cae = SigmoidAutoencoder::<f32, Cpu>::build(&dev);
    train_with(&mut cae, &dev, &ae_train, mid, seed, |m, x, t| {
        sigmoid_ae_loss(m, x, t, CONTRACTIVE_WEIGHT, contractive_sigmoid_dense)
    })?;
    let cae_recon = pixels(predict(&cae, &xte, 256)?);
    let cae_jac = jacobian_norm(&cae, &xte)?;
    rows.push(Row {
        name: "contractive AE",
        mse: mse(&cae_recon, &xte),
        code: 64,
        penalty: format!("|J|_F^2 {cae_jac:.4}"),
        knn: None,
    });
    pictures.push(("contractive AE", cae_recon[..shown * PIXELS].to_vec()));
    println!(
        "plain, sparse and contractive AEs trained in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // 3. Denoising: the same net, noisy input -> clean target.
    let t0 = Instant::now();
    let noisy_tr = add_noise(&xtr, seed.wrapping_mul(2));
    let noisy_te = add_noise(&xte, seed.wrapping_mul(2).wrapping_add(1));
    let mut dae = SigmoidAutoencoder::<f32, Cpu>::build(&dev);
    fit(
        &mut dae,
        &mut adam()?,
        &BceWithLogits,
        &reconstruct(noisy_tr, xtr.clone())?,
        quiet(mid),
        &mut [],
    )?;
    let denoised = pixels(predict(&dae, &noisy_te, 256)?);
    let noisy_mse = mse(&noisy_te, &xte);
    rows.push(Row {
        name: "denoising AE",
        mse: mse(&denoised, &xte),
        code: 64,
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
        &ae_train,
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

    // 5. VAE.
    let t0 = Instant::now();
    let mut vae: Vae = (VaeEncoder::build(&dev), Decoder2::build(&dev));
    let vae_dev = dev.clone();
    let neg_elbo = train_with(&mut vae, &dev, &ae_train, long, seed, |m, x, t| {
        vae_loss(&vae_dev, m, x, t)
    })?;
    let (vae_tr, vae_te) = (vae_encode(&vae, &xtr)?, vae_encode(&vae, &xte)?);
    let vae_knn = knn_accuracy(&vae_tr, &train_labels, &vae_te, &test_labels, 2, K)?;
    let decode =
        |codes: &[f32]| -> sxima::Result<Vec<f32>> { Ok(pixels(predict(&vae.1, codes, 256)?)) };
    let vae_recon = decode(&vae_te)?;
    let vae_kl = {
        let out = flat(predict(&vae.0, &xte, 256)?);
        let (mu, lv): (Vec<f32>, Vec<f32>) = (
            out.chunks(4).flat_map(|v| [v[0], v[1]]).collect(),
            out.chunks(4).flat_map(|v| [v[2], v[3]]).collect(),
        );
        let mu = dev.tensor_from_vec(mu, (test.len(), 2usize));
        let lv = dev.tensor_from_vec(lv, (test.len(), 2usize));
        gaussian_kl::<f32, Cpu, NoneTape, NoneTape>(mu, lv)?.array() as f64
    };
    rows.push(Row {
        name: "VAE (mu)",
        mse: mse(&vae_recon, &xte),
        code: 2,
        penalty: format!("KL {vae_kl:.3}"),
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
    let elbo: Vec<String> = neg_elbo.iter().map(|v| format!("{:.2}", -v)).collect();
    println!(
        "VAE ELBO per epoch (train, nats per digit): {}",
        elbo.join(" ")
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
