//! Training and inference throughput (samples/s) of the `mlp`, `cnn`, `dae`
//! and `lstm` models of `../shared/bench/torch_baseline.py`, written with
//! `model!`, timed the way that script times PyTorch: on random data, a
//! warm-up, a calibration of steps per repeat (about `--seconds` each), then
//! the median over `--repeats` repeats.
//!
//! * training step: what `fit` runs per batch ([`train_step`]: input tensor,
//!   zeroed gradients, `forward_mut`, loss, backward, gradient norms, the
//!   optimizer's update), with `fit`'s defaults (accuracy predictions for
//!   class targets, gradient norms on; `--no-grad-norms` turns them off);
//! * inference: `model.forward(x)` on a prepared batch, no tape
//!   (`--train-only` skips it, for profiling).
//!
//! The `lstm` row (a language model: a class per step) times the step
//! torch_baseline times, written out ([`bench_lm`]): forward, cross-entropy
//! over all `32 * 35` steps, backward, Adam's update, zeroed gradients; `fit`
//! takes one target per sample, so its `train_step` does not apply.
//!
//! Runs on 2 threads by default (rayon's global pool, which dfdx's gemm and
//! the conv fast path share), like `torch_baseline.py --threads 2`.
//!
//! ```text
//! cargo run --release --example bench                      # all four, a table
//! cargo run --release --example bench -- --model cnn --json
//! cargo run --release --example bench -- --threads 2 --repeats 7 --seconds 1.0 --warmup 5
//! scripts/bench_vs_torch.sh                                # side by side with PyTorch
//! ```

use std::time::Instant;

use sxima::prelude::*;
use sxima::runtime::error::DeviceResultExt;
use sxima::train::forward::{input_tensor, model_device, scalar};
use sxima::train::infer::default_metrics;
use sxima::train::{train_step, StepBatch};

model! {
    /// 784-256-128-10 multilayer perceptron (torch_baseline `mlp`).
    pub BenchMlp(input: [784]) {
        fc1: Dense(256),
        ReLU,
        fc2: Dense(128),
        ReLU,
        fc3: Dense(10),
    }

    /// The lecture CNN (torch_baseline `cnn`).
    pub BenchCnn(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel = 5),
        ReLU,
        MaxPool2d(2),
        conv2: Conv2d(64, kernel = 5) -> [64, 8, 8],
        ReLU,
        MaxPool2d(2),
        Flatten -> [1024],
        fc3: Dense(128),
        ReLU,
        fc4: Dense(10),
    }

    /// The lecture's convolutional denoising autoencoder (torch_baseline `dae`).
    pub BenchDae(input: [1, 28, 28]) {
        enc1: Conv2d(32, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2) -> [32, 14, 14],
        enc2: Conv2d(32, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2) -> [32, 7, 7],
        mid: Conv2d(32, kernel = 3, padding = 1),
        ReLU,
        UpSampling2d(2) -> [32, 14, 14],
        dec1: Conv2d(32, kernel = 3, padding = 1),
        ReLU,
        UpSampling2d(2) -> [32, 28, 28],
        dec2: Conv2d(1, kernel = 3, padding = 1),
        Sigmoid,
    }

    /// Character-level language model (torch_baseline `lstm`): 35 token ids
    /// in, a distribution over the 100 tokens at every step out.
    pub BenchLstm(input: tokens[35]) {
        emb: Embedding(100, 64) -> [35, 64],
        lstm: Lstm(128, return_sequences = true) -> [35, 128],
        out: Dense(100) -> [35, 100],
    }
}

/// Steps and classes of the `lstm` row.
const LM_STEPS: usize = 35;
const LM_VOCAB: usize = 100;

/// Times the `lstm` row: one training step as torch_baseline's (forward,
/// cross-entropy over every step, backward, Adam, zeroed gradients) and the
/// inference forward, on one fixed random batch of token ids.
fn bench_lm(o: &Opts) -> sxima::Result<BenchResult> {
    let dev = Cpu::seed_from_u64(0);
    let mut rng = Rng(0);
    let b = 32;
    let mut model = BenchLstm::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    let ids = rng.labels(b * LM_STEPS, LM_VOCAB);
    let next = rng.labels(b * LM_STEPS, LM_VOCAB);
    let x: Tensor<(usize, Const<LM_STEPS>), usize, Cpu> = dev.tensor_from_vec(ids, (b, Const));
    let mut grads = Some(model.try_alloc_grads().dev()?);
    let (_, train_s) = time_loop(
        || {
            let g = match grads.take() {
                Some(g) => g,
                None => model.try_alloc_grads().dev()?,
            };
            let y = model.try_forward_mut(x.clone().traced(g))?;
            let y = y.try_reshape_like(&(b * LM_STEPS, LM_VOCAB)).dev()?;
            let l = SparseCrossEntropy.try_loss(y, &Target::Classes(&next))?;
            std::hint::black_box(scalar(&l));
            let mut g = l.try_backward().dev()?;
            opt.step(&mut model, &g)?;
            model.try_zero_grads(&mut g).dev()?;
            grads = Some(g);
            Ok(())
        },
        o,
    )?;
    let infer = Opts {
        repeats: if o.train_only { 1 } else { o.repeats },
        seconds: if o.train_only { 0.0 } else { o.seconds },
        warmup: if o.train_only { 0 } else { o.warmup },
        models: Vec::new(),
        ..*o
    };
    let (_, infer_s) = time_loop(
        || {
            std::hint::black_box(model.try_forward(x.clone())?);
            Ok(())
        },
        &infer,
    )?;
    Ok(BenchResult {
        model: "lstm",
        batch: b,
        params: <BenchLstm as ModelInfo>::PARAM_COUNT,
        train_ms: train_s,
        infer_ms: infer_s,
    })
}

/// Command-line settings (same names and defaults as torch_baseline.py).
struct Opts {
    models: Vec<String>,
    threads: usize,
    repeats: usize,
    seconds: f64,
    warmup: usize,
    json: bool,
    grad_norms: bool,
    /// Time training only (for profiling).
    train_only: bool,
}

impl Opts {
    fn parse() -> Result<Self, String> {
        let mut o = Opts {
            models: Vec::new(),
            threads: 2,
            repeats: 7,
            seconds: 1.0,
            warmup: 5,
            json: false,
            grad_norms: true,
            train_only: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--model" => o.models.push(value("--model")?),
                "--threads" => o.threads = parse(&value("--threads")?)?,
                "--repeats" => o.repeats = parse(&value("--repeats")?)?,
                "--seconds" => o.seconds = parse(&value("--seconds")?)?,
                "--warmup" => o.warmup = parse(&value("--warmup")?)?,
                "--json" => o.json = true,
                "--no-grad-norms" => o.grad_norms = false,
                "--train-only" => o.train_only = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if o.models.is_empty() {
            o.models = vec!["mlp".into(), "cnn".into(), "dae".into(), "lstm".into()];
        }
        if o.repeats == 0 || o.threads == 0 {
            return Err("--repeats and --threads must be at least 1".into());
        }
        Ok(o)
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number {s:?}"))
}

/// Uniform `[0, 1)` floats and class labels from SplitMix64 (like
/// `torch.rand` / `torch.randint`: the values do not matter for timing).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .collect()
    }
    fn labels(&mut self, n: usize, classes: usize) -> Vec<usize> {
        (0..n)
            .map(|_| (self.next() % classes as u64) as usize)
            .collect()
    }
}

/// Like torch_baseline's `time_loop`: warm-up, calibrate, time `repeats`
/// repeats of `n` steps; returns `(n, seconds per step of each repeat)`.
fn time_loop(
    mut step: impl FnMut() -> sxima::Result<()>,
    o: &Opts,
) -> sxima::Result<(usize, Vec<f64>)> {
    for _ in 0..o.warmup {
        step()?;
    }
    let t0 = Instant::now();
    for _ in 0..3 {
        step()?;
    }
    let per_step = t0.elapsed().as_secs_f64() / 3.0;
    let n = ((o.seconds / per_step.max(1e-9)).round() as usize).max(3);
    let mut times = Vec::with_capacity(o.repeats);
    for _ in 0..o.repeats {
        let t0 = Instant::now();
        for _ in 0..n {
            step()?;
        }
        times.push(t0.elapsed().as_secs_f64() / n as f64);
    }
    Ok((n, times))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

/// One model's figures (field names as in torch_baseline's JSON).
struct BenchResult {
    model: &'static str,
    batch: usize,
    params: usize,
    train_ms: Vec<f64>,
    infer_ms: Vec<f64>,
}

impl BenchResult {
    fn train_sps(&self) -> f64 {
        self.batch as f64 / median(&self.train_ms)
    }
    fn infer_sps(&self) -> f64 {
        self.batch as f64 / median(&self.infer_ms)
    }
    fn json(&self) -> String {
        let list = |v: &[f64]| {
            v.iter()
                .map(|t| format!("{:.4}", t * 1e3))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{{\"model\": \"{}\", \"batch\": {}, \"params\": {}, \
             \"train_samples_per_s\": {:.2}, \"train_ms_per_step\": {:.4}, \
             \"infer_samples_per_s\": {:.2}, \"infer_ms_per_batch\": {:.4}, \
             \"train_ms_per_step_repeats\": [{}], \"infer_ms_per_batch_repeats\": [{}]}}",
            self.model,
            self.batch,
            self.params,
            self.train_sps(),
            median(&self.train_ms) * 1e3,
            self.infer_sps(),
            median(&self.infer_ms) * 1e3,
            list(&self.train_ms),
            list(&self.infer_ms),
        )
    }
}

/// Times `model`'s training step (via `fit`'s [`train_step`]) and inference
/// on one fixed random batch.
fn bench<M, O, L>(
    name: &'static str,
    mut model: M,
    mut opt: O,
    loss: L,
    (x, y): (Vec<f32>, Targets),
    o: &Opts,
) -> sxima::Result<BenchResult>
where
    M: Model<f32, Cpu>,
    O: Optimizer<M, f32, Cpu>,
    L: Loss<f32, Cpu>,
{
    let batch = y.len();
    let dev: Cpu = model_device(&model);
    let predictions = !default_metrics(&y).is_empty();
    let mut grads = None;
    let (_, train_s) = time_loop(
        || {
            let step = StepBatch {
                features: &x,
                targets: &y,
                epoch: 1,
                batch: 1,
            };
            train_step(
                &mut model,
                &mut opt,
                &loss,
                &dev,
                &mut grads,
                step,
                predictions,
                o.grad_norms,
            )
            .map(|_| ())
        },
        o,
    )?;
    let xt = input_tensor::<f32, Cpu, M>(&dev, &x, batch)?;
    let infer = Opts {
        repeats: if o.train_only { 1 } else { o.repeats },
        seconds: if o.train_only { 0.0 } else { o.seconds },
        warmup: if o.train_only { 0 } else { o.warmup },
        models: Vec::new(),
        ..*o
    };
    let (_, infer_s) = time_loop(
        || {
            let out = model.try_forward(xt.clone())?;
            std::hint::black_box(out);
            Ok(())
        },
        &infer,
    )?;
    Ok(BenchResult {
        model: name,
        batch,
        params: M::PARAM_COUNT,
        train_ms: train_s,
        infer_ms: infer_s,
    })
}

fn run(name: &str, o: &Opts) -> sxima::Result<BenchResult> {
    let dev = Cpu::seed_from_u64(0);
    let mut rng = Rng(0);
    let adam = || {
        Adam::new(AdamConfig {
            lr: 1e-3,
            ..Default::default()
        })
    };
    let b = 64;
    match name {
        "mlp" => bench(
            "mlp",
            BenchMlp::<f32, Cpu>::build(&dev),
            Sgd::new(SgdConfig {
                lr: 0.01,
                ..Default::default()
            })?,
            SparseCrossEntropy,
            (rng.uniform(b * 784), Targets::Classes(rng.labels(b, 10))),
            o,
        ),
        "cnn" => bench(
            "cnn",
            BenchCnn::<f32, Cpu>::build(&dev),
            adam()?,
            SparseCrossEntropy,
            (rng.uniform(b * 784), Targets::Classes(rng.labels(b, 10))),
            o,
        ),
        "dae" => bench(
            "dae",
            BenchDae::<f32, Cpu>::build(&dev),
            adam()?,
            Bce,
            (
                rng.uniform(b * 784),
                Targets::Values {
                    width: 784,
                    data: rng.uniform(b * 784),
                },
            ),
            o,
        ),
        "lstm" => bench_lm(o),
        other => Err(sxima::Error::config(
            "--model",
            other,
            "unknown model (mlp, cnn, dae, lstm)",
        )),
    }
}

fn main() -> sxima::Result<()> {
    // Training on the CPU: keep freed step buffers in the process (opt-in,
    // changes glibc's malloc settings for the whole process).
    sxima::runtime::tune_host_allocator();
    let o = Opts::parse().map_err(|e| sxima::Error::config("command line", "", e))?;
    // dfdx's gemm and the conv/pool kernels all run on rayon's global pool.
    rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build_global()
        .map_err(|e| sxima::Error::config("--threads", o.threads, format!("rayon pool: {e}")))?;
    if !o.json {
        println!(
            "sxima | threads {} | grad norms {}",
            rayon::current_num_threads(),
            if o.grad_norms { "on" } else { "off" }
        );
        println!(
            "{:8} {:>5} {:>9} {:>13} {:>9} {:>13} {:>9}",
            "model", "batch", "params", "train samp/s", "ms/step", "infer samp/s", "ms/batch"
        );
    }
    let mut results = Vec::new();
    for name in &o.models {
        let r = run(name, &o)?;
        if !o.json {
            println!(
                "{:8} {:5} {:9} {:13.1} {:9.2} {:13.1} {:9.2}",
                r.model,
                r.batch,
                r.params,
                r.train_sps(),
                median(&r.train_ms) * 1e3,
                r.infer_sps(),
                median(&r.infer_ms) * 1e3
            );
        }
        results.push(r);
    }
    if o.json {
        let rs: Vec<String> = results.iter().map(|r| r.json()).collect();
        println!(
            "{{\"meta\": {{\"library\": \"sxima\", \"threads\": {}, \"grad_norms\": {}, \
             \"repeats\": {}, \"seconds_per_repeat\": {}, \"warmup\": {}}},\n \"results\": [\n  {}\n ]}}",
            rayon::current_num_threads(),
            o.grad_norms,
            o.repeats,
            o.seconds,
            o.warmup,
            rs.join(",\n  ")
        );
    }
    Ok(())
}
