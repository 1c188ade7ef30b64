//! The denoising autoencoder of `examples/denoising_autoencoder.rs` (encoder
//! and decoder as nested `model!` types) trained briefly on a few hundred
//! noisy digits, and the image-grid PNG writer its picture uses.

use std::path::PathBuf;

use sxima::prelude::*;
use sxima::train::{image_grid, image_grid_size};

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

const PIXELS: usize = 28 * 28;

/// Parameters of a 3x3 conv from `i` to `o` channels with bias.
const fn conv3(i: usize, o: usize) -> usize {
    9 * i * o + o
}

const _: () = assert!(<Encoder as ModelInfo>::PARAM_COUNT == conv3(1, 32) + conv3(32, 32));
const _: () =
    assert!(<Decoder as ModelInfo>::PARAM_COUNT == conv3(32, 32) + conv3(32, 32) + conv3(32, 1));

#[test]
fn nested_model_adds_up_its_parts() {
    assert_eq!(
        <DenoisingAutoencoder as ModelInfo>::PARAM_COUNT,
        <Encoder as ModelInfo>::PARAM_COUNT + <Decoder as ModelInfo>::PARAM_COUNT
    );
    assert_eq!(<Encoder as ModelInfo>::OUTPUT_SHAPE, &[32, 7, 7]);
    assert_eq!(
        <DenoisingAutoencoder as ModelInfo>::OUTPUT_SHAPE,
        &[1, 28, 28]
    );
    let text = DenoisingAutoencoder::<f32, Cpu>::summary().to_string();
    assert!(text.contains("encoder (Encoder)"), "{text}");
    assert!(text.contains("(B, 32, 7, 7)"), "{text}");
    assert!(text.contains("decoder (Decoder)"), "{text}");
}

/// Noisy digits `clip(x + 0.5 * N(0, 1), 0, 1)` as features, the clean
/// digits as 784-value targets.
fn noisy(clean: &Dataset, seed: u64) -> Dataset {
    let rng = Cpu::seed_from_u64(seed);
    let noise: Tensor<(usize, Const<PIXELS>), f32, Cpu> =
        rng.sample_normal_like(&(clean.len(), Const));
    let features: Vec<f32> = clean
        .features()
        .iter()
        .zip(noise.as_vec())
        .map(|(x, z)| (x + 0.5 * z).clamp(0.0, 1.0))
        .collect();
    Dataset::with_values(features, &[1, 28, 28], PIXELS, clean.features().to_vec()).unwrap()
}

/// Mean of `f(pred, target)` over all pixel pairs.
fn mean_of(pred: &[f32], target: &[f32], f: impl Fn(f64, f64) -> f64) -> f64 {
    assert_eq!(pred.len(), target.len());
    let sum: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| f(p as f64, t as f64))
        .sum();
    sum / pred.len() as f64
}

fn bce(p: f64, t: f64) -> f64 {
    -(t * p.ln().max(-100.0) + (1.0 - t) * (1.0 - p).ln().max(-100.0))
}

/// Training digits, test digits and epochs of the brief training: about
/// 10 s in the test profile.
const TRAIN: usize = 1000;
const TEST: usize = 200;
const EPOCHS: usize = 4;

#[test]
fn brief_training_denoises_digits() {
    let mnist = mnist::load(mnist::default_dir()).unwrap();
    let train = noisy(&mnist.train.take(TRAIN), 10);
    let test = noisy(&mnist.test.take(TEST), 11);
    let clean = test.targets().clone();
    let Targets::Values { data: clean, .. } = clean else {
        unreachable!()
    };

    let dev = Cpu::seed_from_u64(0);
    let mut model = DenoisingAutoencoder::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })
    .unwrap();
    let history = fit(
        &mut model,
        &mut opt,
        &Bce,
        &train,
        FitConfig::new()
            .epochs(EPOCHS)
            .batch_size(32)
            .seed(0)
            .validation_data(&test)
            .silent(),
        &mut [],
    )
    .unwrap();
    let losses = history.series("loss");
    assert!(losses.last() < losses.first(), "train loss {losses:?}");

    let out: Vec<f32> = predict(&model, test.features(), 100).unwrap().concat();
    assert!(
        out.iter().all(|p| (0.0..=1.0).contains(p)),
        "sigmoid output"
    );
    let denoised_bce = mean_of(&out, &clean, bce);
    let noisy_bce = mean_of(test.features(), &clean, bce);
    let eval = evaluate(&model, &Bce, &test, 64).unwrap();
    assert!(
        (eval.loss - denoised_bce).abs() < 1e-4,
        "{} vs {denoised_bce}",
        eval.loss
    );
    // The best constant output per pixel (the mean clean digit) scores this;
    // a denoiser must beat it, i.e. use the noisy input.
    let mean_digit: Vec<f32> = (0..PIXELS)
        .map(|k| clean.iter().skip(k).step_by(PIXELS).sum::<f32>() / TEST as f32)
        .collect();
    let constant: Vec<f32> = mean_digit
        .iter()
        .cycle()
        .take(clean.len())
        .copied()
        .collect();
    let constant_bce = mean_of(&constant, &clean, bce);
    let sq = |p: f64, t: f64| (p - t) * (p - t);
    let (denoised_mse, noisy_mse) = (
        mean_of(&out, &clean, sq),
        mean_of(test.features(), &clean, sq),
    );
    println!(
        "BCE denoised {denoised_bce:.4}, noisy {noisy_bce:.4}, mean digit {constant_bce:.4}; \
         MSE denoised {denoised_mse:.4}, noisy {noisy_mse:.4}"
    );
    assert!(
        denoised_bce < noisy_bce,
        "BCE denoised {denoised_bce} noisy {noisy_bce}"
    );
    assert!(
        denoised_bce < constant_bce,
        "BCE denoised {denoised_bce} mean digit {constant_bce}"
    );
    assert!(
        denoised_mse < noisy_mse,
        "MSE denoised {denoised_mse} noisy {noisy_mse}"
    );
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sxima-dae-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Decodes an 8-bit RGB PNG: `(width, height, pixels)` after checking the
/// signature bytes.
fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut reader = png::Decoder::new(&bytes[..]).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn image_grid_writes_a_png_of_the_promised_size() {
    // a: grey ramp 0, 1/11, .., 1 over a 3x4 image; b: all 0.5 but one NaN
    // and one value outside [0, 1].
    let a: Vec<f32> = (0..12).map(|i| i as f32 / 11.0).collect();
    let mut b = [0.5f32; 12];
    (b[0], b[11]) = (f32::NAN, 7.0);
    let path = temp_path("grid.png");

    // 2 rows of up to 3 images of 3x4 pixels at scale 5, no labels.
    let rows = [("", vec![&a[..], &b[..], &a[..]]), ("", vec![&b[..]])];
    image_grid(&path, &rows, 3, 4, 5).unwrap();
    let (w, h, px) = read_png(&path);
    assert_eq!((w, h), image_grid_size(&rows, 3, 4, 5));
    // 6 px gaps: 6 + 3 * (20 + 6) wide, 6 + 2 * (15 + 6) high.
    assert_eq!((w, h), (84, 48));
    let at = |x: u32, y: u32| {
        let i = 3 * (y * w + x) as usize;
        [px[i], px[i + 1], px[i + 2]]
    };
    // Image (row 0, col 0) starts at (6, 6); pixel k of it covers a 5x5
    // block at (6 + 5 * (k % 4), 6 + 5 * (k / 4)).
    for k in 0..12u32 {
        let g = (a[k as usize] * 255.0).round() as u8;
        for (dx, dy) in [(0, 0), (4, 4), (2, 3)] {
            assert_eq!(
                at(6 + 5 * (k % 4) + dx, 6 + 5 * (k / 4) + dy),
                [g; 3],
                "pixel {k}"
            );
        }
    }
    // Gaps are white; image (0, 1) starts at x = 6 + 26 = 32.
    assert_eq!(at(5, 6), [255; 3]);
    assert_eq!(at(26, 6), [255; 3]);
    assert_eq!(at(32, 6), [255, 0, 0], "NaN is red");
    assert_eq!(at(33 + 5, 8), [128; 3]);
    assert_eq!(at(32 + 19, 6 + 14), [255; 3], "7.0 clips to white");
    // Row 1 starts at y = 6 + 21 = 27 and has one image; the rest is white.
    assert_eq!(at(6, 27), [255, 0, 0]);
    assert_eq!(at(40, 30), [255; 3]);

    // Labels add a column on the left; the height stays.
    let labelled = [
        ("noisy", vec![&a[..], &b[..], &a[..]]),
        ("clean", vec![&b[..]]),
    ];
    image_grid(&path, &labelled, 3, 4, 5).unwrap();
    let (lw, lh, lpx) = read_png(&path);
    assert_eq!((lw, lh), image_grid_size(&labelled, 3, 4, 5));
    assert!(lw > 84 && lh == 48, "{lw}x{lh}");
    // The label column holds dark text pixels.
    let label_cols = lw - 84;
    let dark = (0..lh)
        .flat_map(|y| (0..label_cols).map(move |x| (x, y)))
        .filter(|&(x, y)| lpx[3 * (y * lw + x) as usize] < 100)
        .count();
    assert!(dark > 20, "{dark} dark pixels in the label column");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn image_grid_rejects_bad_input_with_errors() {
    let a = [0.0f32; 12];
    let short = [0.0f32; 11];
    let path = temp_path("bad.png");
    let err = image_grid(&path, &[("x", vec![&a[..], &short[..]])], 3, 4, 2).unwrap_err();
    assert!(err.to_string().contains("11 values"), "{err}");
    assert!(image_grid(&path, &[("x", vec![&a[..]])], 3, 4, 0).is_err());
    assert!(image_grid(&path, &[("x", vec![])], 3, 4, 1).is_err());
    assert!(image_grid(temp_path("grid.svg"), &[("x", vec![&a[..]])], 3, 4, 1).is_err());
    assert!(!path.exists());
}
