//! Training and inference throughput (samples/s) of the `mlp`, `cnn`, `dae`,
//! `lstm` and `resnet` models of `../shared/bench/torch_baseline.py`, written with
//! `model!`, timed the way that script times PyTorch: on random data, a
//! warm-up, a calibration of steps per repeat (about `--seconds` each), then
//! the median over `--repeats` repeats.
//!
//! * training step: what `fit` runs per batch ([`train_step`]: input tensor,
//!   zeroed gradients, `forward_mut`, loss, backward, gradient norms, the
//!   optimizer's update), with `fit`'s defaults (accuracy predictions for
//!   class targets, gradient norms on; `--no-grad-norms` turns them off);
//! * inference: `model.forward(x)` on a prepared batch, no tape
//!   (`--train-only` skips it, for profiling; `--infer-only` skips training).
//!
//! The `lstm` row (a language model: a class per step) times the step
//! torch_baseline times, written out ([`bench_lm`]): forward, cross-entropy
//! over all `32 * 35` steps, backward, Adam's update, zeroed gradients; `fit`
//! takes one target per sample, so its `train_step` does not apply.
//!
//! Other modes:
//! * `--latency`: batch-1 inference of `mlp` and `cnn` through
//!   [`Predictor::predict_into`] (`--calls` timed calls, 10,000 by default,
//!   after 200 untimed), median and 99th percentile in microseconds, and the
//!   heap allocations per call (counted by this program's global
//!   allocator); beside it the free function `predict_one` (a fresh
//!   tensor per call). Compare with `scripts/latency_torch.py`.
//! * `--rss-epoch`: trains the lecture CNN for one epoch on the bundled
//!   MNIST training split with `fit` (Adam, batch 64, no validation) and
//!   prints the peak resident set size (`VmHWM`) before and after; see
//!   `scripts/rss_vs_torch.sh`.
//!
//! For the CNN the table also gives the achieved GFLOP/s (2 x the
//! multiply-accumulates of its layers per sample, times 3 for a training
//! step: forward, input and weight gradients) against the machine's peak,
//! estimated as cores used x FMA lanes (16 f32 with AVX-512, 8 with AVX2) x
//! 2 flops x the clock `/proc/cpuinfo` reports (the base clock: turbo makes
//! the true peak higher, so that fraction is an upper bound), and against
//! the measured peak: what the same threads reach running nothing but
//! independent AVX-512 FMAs for 25 ms (at the clock the CPU really runs).
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

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
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
            opt.step_and_zero(&mut model, &mut g)?;
            grads = Some(g);
            Ok(())
        },
        &o.for_training(),
    )?;
    let infer = o.for_inference();
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

/// The system allocator, counting allocations (for `--latency`).
struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the counter is atomic.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

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
    /// Time inference only (for profiling).
    infer_only: bool,
    /// Batch-1 latency through `Predictor` instead of throughput.
    latency: bool,
    /// Timed calls per model in `--latency`.
    calls: usize,
    /// One epoch of the lecture CNN on MNIST, peak RSS.
    rss_epoch: bool,
}

impl Opts {
    /// The settings of the inference timing: a single short repeat with
    /// `--train-only` (profiling the training step), else as given.
    fn for_inference(&self) -> Opts {
        Opts {
            repeats: if self.train_only { 1 } else { self.repeats },
            seconds: if self.train_only { 0.0 } else { self.seconds },
            warmup: if self.train_only { 0 } else { self.warmup },
            models: Vec::new(),
            ..*self
        }
    }

    /// The settings of the training timing: a single short repeat with
    /// `--infer-only` (profiling the inference forward), else as given.
    fn for_training(&self) -> Opts {
        Opts {
            repeats: if self.infer_only { 1 } else { self.repeats },
            seconds: if self.infer_only { 0.0 } else { self.seconds },
            warmup: if self.infer_only { 0 } else { self.warmup },
            models: Vec::new(),
            ..*self
        }
    }

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
            infer_only: false,
            latency: false,
            calls: 10_000,
            rss_epoch: false,
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
                "--infer-only" => o.infer_only = true,
                "--latency" => o.latency = true,
                "--calls" => o.calls = parse(&value("--calls")?)?,
                "--rss-epoch" => o.rss_epoch = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if o.models.is_empty() {
            o.models = if o.latency {
                vec!["mlp".into(), "cnn".into()]
            } else {
                vec![
                    "mlp".into(),
                    "cnn".into(),
                    "dae".into(),
                    "lstm".into(),
                    "resnet".into(),
                ]
            };
        }
        if o.repeats == 0 || o.threads == 0 || o.calls == 0 {
            return Err("--repeats, --threads and --calls must be at least 1".into());
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
        &o.for_training(),
    )?;
    let xt = input_tensor::<f32, Cpu, M>(&dev, &x, batch)?;
    let infer = o.for_inference();
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
            "unknown model (mlp, cnn, dae, lstm, resnet)",
        )),
    }
}

/// Forward flops per sample of the lecture CNN: 2 x the multiply-accumulates
/// of conv1 (32 x 1 x 5 x 5 taps at 24 x 24), conv2 (64 x 32 x 5 x 5 at
/// 8 x 8), fc3 (1024 x 128) and fc4 (128 x 10); pooling and ReLU not counted.
const CNN_FORWARD_FLOPS: f64 =
    2.0 * (32.0 * 25.0 * 576.0 + 64.0 * 32.0 * 25.0 * 64.0 + 1024.0 * 128.0 + 128.0 * 10.0);

/// The machine's peak f32 GFLOP/s on `cores` cores, and how it was found:
/// FMA lanes from the CPU flags, clock from `/proc/cpuinfo`.
fn peak_gflops(cores: usize) -> Option<(f64, String)> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    let (lanes, isa) = if has("avx512f") {
        (16.0, "AVX-512")
    } else if has("avx2") && has("fma") {
        (8.0, "AVX2+FMA")
    } else {
        return None;
    };
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    let peak = cores as f64 * lanes * 2.0 * mhz / 1e3;
    Some((
        peak,
        format!("{cores} cores x {lanes} f32 lanes ({isa} FMA) x 2 flops x {mhz:.0} MHz"),
    ))
}

/// The f32 GFLOP/s that `threads` threads reach together running only
/// independent AVX-512 FMAs (12 accumulators each, the best of four 25 ms
/// runs): the peak at the clock the CPU really
/// runs at, turbo included, which `/proc/cpuinfo` does not tell. `None`
/// without AVX-512.
fn measured_peak_gflops(threads: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::is_x86_feature_detected!("avx512f") {
            return None;
        }
        let run = || {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    // SAFETY: AVX-512F was detected above.
                    .map(|_| s.spawn(|| unsafe { fma_loop(0.025) }))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum::<f64>()
            })
        };
        // The best of four: the first lets the clock ramp up, and a run the
        // OS interrupted reads low.
        Some((0..4).map(|_| run()).fold(0.0, f64::max))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        None
    }
}

/// GFLOP/s of one thread running independent FMAs for about `seconds`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_loop(seconds: f64) -> f64 {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_set1_ps};
    const BLOCK: usize = 100_000;
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    let start = Instant::now();
    let mut blocks = 0usize;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..BLOCK {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        blocks += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(acc);
    (blocks * BLOCK * 12 * 16 * 2) as f64 / secs / 1e9
}

/// Median and 99th percentile of `v` (sorted in place).
fn median_p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p99 = v[((v.len() - 1) as f64 * 0.99).round() as usize];
    (median(v), p99)
}

/// Batch-1 latency of `model` through `Predictor::predict_into` and
/// through the free `predict_one`: prints median, p99 (microseconds) and
/// heap allocations per call.
fn latency<M: Model<f32, Cpu>>(name: &str, model: M, o: &Opts) -> sxima::Result<()> {
    let mut rng = Rng(7);
    let x = rng.uniform(M::INPUT_SHAPE.iter().product());
    let mut out = vec![0.0f32; M::OUTPUT_SHAPE.iter().product()];
    let mut run = |label: &str, f: &mut dyn FnMut(&mut [f32]) -> sxima::Result<()>| {
        for _ in 0..200 {
            f(&mut out)?;
        }
        let mut times = Vec::with_capacity(o.calls);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..o.calls {
            let t0 = Instant::now();
            f(&mut out)?;
            times.push(t0.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(&out);
        }
        // `times` was allocated before the count started.
        let allocs = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / o.calls as f64;
        let (med, p99) = median_p99(&mut times);
        if o.json {
            println!(
                "{{\"model\": \"{name}\", \"path\": \"{label}\", \"calls\": {}, \
                 \"median_us\": {med:.2}, \"p99_us\": {p99:.2}, \"allocs_per_call\": {allocs:.1}}}",
                o.calls
            );
        } else {
            println!("{name:6} {label:24} {med:10.1} {p99:10.1} {allocs:14.1}");
        }
        Ok::<(), sxima::Error>(())
    };
    let predictor = Predictor::borrowing(&model);
    run("Predictor::predict_into", &mut |out| {
        predictor.predict_into(&x, out)
    })?;
    run("predict_one", &mut |out| {
        let y = sxima::train::predict_one(&model, &x)?;
        out.copy_from_slice(&y);
        Ok(())
    })?;
    Ok(())
}

/// Peak resident set size of this process so far (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One epoch of the lecture CNN on the bundled MNIST training split (Adam,
/// batch 64, shuffled, no validation), with the peak RSS before and after.
fn rss_epoch(o: &Opts) -> sxima::Result<()> {
    let mnist = mnist::load_default()?;
    let dev = Cpu::seed_from_u64(0);
    let mut model = BenchCnn::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    let before = peak_rss_mib().unwrap_or(f64::NAN);
    let t0 = Instant::now();
    fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        &mnist.train,
        FitConfig::new().epochs(1).batch_size(64).seed(0).silent(),
        &mut [],
    )?;
    let seconds = t0.elapsed().as_secs_f64();
    let after = peak_rss_mib().unwrap_or(f64::NAN);
    if o.json {
        println!(
            "{{\"library\": \"sxima\", \"samples\": {}, \"seconds\": {seconds:.2}, \
             \"peak_rss_before_mib\": {before:.1}, \"peak_rss_mib\": {after:.1}}}",
            mnist.train.len()
        );
    } else {
        println!(
            "sxima: lecture CNN, 1 epoch of {} digits in {seconds:.1} s; peak RSS {before:.1} MiB \
             after loading the data, {after:.1} MiB after the epoch",
            mnist.train.len()
        );
    }
    Ok(())
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
    if o.rss_epoch {
        return rss_epoch(&o);
    }
    if o.latency {
        if !o.json {
            println!("batch-1 latency, {} calls (microseconds)", o.calls);
            println!(
                "{:6} {:24} {:>10} {:>10} {:>14}",
                "model", "path", "median", "p99", "allocs/call"
            );
        }
        let dev = Cpu::seed_from_u64(0);
        for name in &o.models {
            match name.as_str() {
                "mlp" => latency("mlp", BenchMlp::<f32, Cpu>::build(&dev), &o)?,
                "cnn" => latency("cnn", BenchCnn::<f32, Cpu>::build(&dev), &o)?,
                other => {
                    return Err(sxima::Error::config(
                        "--model",
                        other,
                        "--latency runs mlp and cnn",
                    ))
                }
            }
        }
        return Ok(());
    }
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
    if let Some(cnn) = results.iter().find(|r| r.model == "cnn") {
        let train = 3.0 * CNN_FORWARD_FLOPS * cnn.train_sps() / 1e9;
        let infer = CNN_FORWARD_FLOPS * cnn.infer_sps() / 1e9;
        let peak = peak_gflops(o.threads);
        let measured = measured_peak_gflops(o.threads);
        let of = |g: f64, p: Option<f64>, what: &str| match p {
            Some(p) => format!("{:.0}% of {what}", 100.0 * g / p),
            None => String::new(),
        };
        let shares = |g: f64| {
            let parts = [
                of(g, measured, "measured peak"),
                of(g, peak.as_ref().map(|p| p.0), "base-clock peak"),
            ];
            let parts: Vec<_> = parts.into_iter().filter(|p| !p.is_empty()).collect();
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            }
        };
        let line = format!(
            "cnn achieved: train {train:.1} GFLOP/s{}, inference {infer:.1} GFLOP/s{}; measured peak {}; base-clock peak {}",
            shares(train),
            shares(infer),
            match measured {
                Some(m) => format!("{m:.0} GFLOP/s ({} threads of AVX-512 FMAs alone)", o.threads),
                None => "not measured (no AVX-512)".into(),
            },
            match &peak {
                Some((p, how)) => format!("{p:.0} GFLOP/s = {how}"),
                None => "unknown (no AVX2/AVX-512 flags or clock in /proc/cpuinfo)".into(),
            }
        );
        // On stderr in JSON mode, so the JSON stays parseable.
        if o.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
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
