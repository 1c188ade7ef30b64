//! Training and inference throughput (samples/s) of the `mlp`, `cnn`, `dae`
//! and `resnet` models of `../shared/bench/torch_baseline.py`, written with
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
//! Runs on 2 threads by default (rayon's global pool, which dfdx's gemm and
//! the conv fast path share), like `torch_baseline.py --threads 2`.
//!
//! ```text
//! cargo run --release --example bench                      # all three, a table
//! cargo run --release --example bench -- --model cnn --json
//! cargo run --release --example bench -- --threads 2 --repeats 7 --seconds 1.0 --warmup 5
//! scripts/bench_vs_torch.sh                                # side by side with PyTorch
//! ```

use std::time::Instant;

use sxima::prelude::*;
use sxima::train::forward::{input_tensor, model_device};
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

    /// ResNet basic block (torch_baseline `BasicBlock`): conv3x3-BN-ReLU-
    /// conv3x3-BN plus the shortcut (identity, or 1x1 conv + BN when the
    /// shape changes), then ReLU.
    block BenchBasicBlock(channels, stride) {
        residual(shortcut = auto) {
            conv1: Conv2d(channels, kernel = 3, stride = stride, padding = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(channels, kernel = 3, padding = 1, bias = false),
            bn2: BatchNorm2d,
        },
        ReLU,
    }

    /// The small ResNet for 3x32x32 (torch_baseline `resnet`): stem conv 32,
    /// two basic blocks at 32, a stride-2 block at 64, global average pool,
    /// dense 10.
    pub BenchResnet(input: [3, 32, 32]) {
        conv1: Conv2d(32, kernel = 3, padding = 1, bias = false),
        bn1: BatchNorm2d,
        ReLU,
        layer1: { BenchBasicBlock(32, 1), BenchBasicBlock(32, 1) } -> [32, 32, 32],
        layer2: BenchBasicBlock(64, 2) -> [64, 16, 16],
        GlobalAvgPool,
        fc: Dense(10),
    }
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
            o.models = vec!["mlp".into(), "cnn".into(), "dae".into(), "resnet".into()];
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
        "resnet" => bench(
            "resnet",
            BenchResnet::<f32, Cpu>::build(&dev),
            Sgd::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                ..Default::default()
            })?,
            SparseCrossEntropy,
            (
                rng.uniform(32 * 3 * 32 * 32),
                Targets::Classes(rng.labels(32, 10)),
            ),
            o,
        ),
        other => Err(sxima::Error::config(
            "--model",
            other,
            "unknown model (mlp, cnn, dae, resnet)",
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
