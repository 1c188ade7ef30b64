//! Long-term dependencies: "George lives in Greece . <gap of filler words>
//! George speaks fluent ___". A plain RNN forgets the country across a long
//! gap (its gradient vanishes towards the early steps); an LSTM or a GRU
//! keeps it.
//!
//! The sentences come from [`sxima::data::fact_recall`] (generated names,
//! twelve countries and their languages, filler words; deterministic from a
//! seed). Three models of the same size read the tokens, Embedding(VOCAB, 16)
//! -> recurrent layer (hidden 32, last state) -> Dense(12), and classify the
//! language at the end: SimpleRnn, LSTM and GRU, trained with Adam and
//! gradient clipping by norm (1.0), once per gap length, on the same
//! sentences from the same seed. The gated cells start with the bias of
//! their keep gate at 1 ([`remember_bias`]); each cell uses the learning rate
//! that learned the longest gap in a small sweep ([`Settings::full`]). The
//! example prints the held-out accuracy per cell and gap and draws it
//! against the gap, with the chance level 1/12, to
//! `OUT/long_term_accuracy.png`.
//!
//! Then, for the longest gap, it measures how much gradient reaches each time
//! step: the mean over 256 new sentences of `‖∂loss/∂x_t‖`, the gradient of
//! the sentence's loss with respect to the embedded input at step `t`, taken
//! from dfdx's tape (the embedded batch is traced as a leaf), for each cell
//! before and after training; drawn on a log scale to
//! `OUT/long_term_gradients.png` (SimpleRnn and LSTM; the GRU's ratio is
//! printed).
//!
//! The models are small generic structs over the runtime's layer types
//! ([`Recaller`]); once `model!` takes token inputs and recurrent layers,
//! `Recaller` is the one thing to replace with a declaration.
//!
//! ```text
//! cargo run --release --example long_term_dependency               # writes out/*.png
//! cargo run --release --example long_term_dependency -- --out DIR  # another folder
//! cargo run --example long_term_dependency -- --quick              # CI smoke run
//! ```

use std::path::{Path, PathBuf};

use dfdx::nn::{BuildModule, Module, ModuleVisitor, TensorCollection};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use sxima::data::fact_recall::{self, FactRecall, LANGUAGES, VOCAB};
use sxima::layers::{CellKind, GruCell, LastStep, LstmCell, Recurrent, ReturnMode, TanhCell};
use sxima::loss::{Loss, Target};
use sxima::prelude::*;

/// Embedding(VOCAB, M) -> recurrent layer with cell `K` (hidden `H`, last
/// state) -> Dense(H, LANGUAGES): tokens `[B, T]` to logits `[B, 12]`.
#[derive(Debug, Clone)]
pub struct Recaller<K: CellKind, const M: usize, const H: usize, E: Dtype, D: Storage<E>> {
    /// `weight [VOCAB, M]`.
    pub embedding: layers::Embedding<VOCAB, M, E, D>,
    /// The recurrent layer `[B, T, M] -> [B, H]` (PyTorch parameter names).
    pub rnn: Recurrent<M, H, K, E, D, LastStep>,
    /// `weight [LANGUAGES, H]`, `bias [LANGUAGES]`.
    pub head: layers::Dense<H, LANGUAGES, E, D>,
}

impl<K: CellKind, const M: usize, const H: usize, E: Elem, D: Backend<E>> TensorCollection<E, D>
    for Recaller<K, M, H, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Recaller<K, M, H, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("embedding", |s| &s.embedding, |s| &mut s.embedding),
                Self::module("rnn", |s| &s.rnn, |s| &mut s.rnn),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(embedding, rnn, head)| Recaller {
                embedding,
                rnn,
                head,
            },
        )
    }
}

impl<K: CellKind, const M: usize, const H: usize, E: Elem, D: Backend<E>> Recaller<K, M, H, E, D> {
    /// Embedded tokens `[B, T, M]` (with their tape) to logits `[B, LANGUAGES]`.
    #[allow(clippy::type_complexity)]
    fn logits<Tp: Tape<E, D>>(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D, Tp>,
    ) -> Result<Tensor<(usize, Const<LANGUAGES>), E, D, Tp>, D::Err> {
        Module::try_forward(&self.head, Module::try_forward(&self.rnn, x)?)
    }
}

/// A SimpleRnn, LSTM or GRU recaller.
pub type RnnRecaller<const M: usize, const H: usize> = Recaller<TanhCell, M, H, f32, Cpu>;
pub type LstmRecaller<const M: usize, const H: usize> = Recaller<LstmCell, M, H, f32, Cpu>;
pub type GruRecaller<const M: usize, const H: usize> = Recaller<GruCell, M, H, f32, Cpu>;

/// How the models are trained and evaluated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The gap lengths (filler words between fact and recall).
    pub gaps: Vec<usize>,
    /// Training and held-out sentences per gap.
    pub train: usize,
    pub test: usize,
    pub epochs: usize,
    pub batch: usize,
    /// Adam's learning rate per cell, in the order of [`CELLS`].
    pub lr: [f64; 3],
    /// Gradient clipping: the largest global gradient norm.
    pub clip: f64,
    pub seed: u64,
}

impl Settings {
    /// The full experiment.
    pub fn full() -> Self {
        Self {
            gaps: vec![5, 10, 20, 40, 60],
            train: 3000,
            test: 1000,
            epochs: 8,
            batch: 32,
            // The rate that learned the gap-60 task in a sweep over 3e-3
            // and 1e-2 (seeds 0..3): the LSTM at 3e-3 only, the GRU at 1e-2
            // only, the SimpleRnn at neither.
            lr: [3e-3, 3e-3, 1e-2],
            clip: 1.0,
            seed: 0,
        }
    }

    /// The CI smoke run: two short gaps, few sentences, one epoch.
    pub fn quick() -> Self {
        Self {
            gaps: vec![2, 8],
            train: 256,
            test: 128,
            epochs: 1,
            ..Self::full()
        }
    }
}

/// The recurrent cells compared.
pub const CELLS: [&str; 3] = ["SimpleRnn", "LSTM", "GRU"];

/// One trained model's result.
#[derive(Debug, Clone)]
pub struct Score {
    /// One of [`CELLS`].
    pub cell: &'static str,
    pub gap: usize,
    /// Held-out accuracy in [0, 1].
    pub accuracy: f64,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
}

/// `‖∂loss/∂x_t‖` per time step `t` (mean over sentences), for one cell.
#[derive(Debug, Clone)]
pub struct GradientProfile {
    pub cell: &'static str,
    /// `"initial"` or `"trained"`.
    pub when: &'static str,
    /// One value per time step `0..seq_len`.
    pub norms: Vec<f64>,
}

impl GradientProfile {
    /// Gradient at the fact (step 3) over the gradient at the last step.
    pub fn fact_over_last(&self) -> f64 {
        let last = self.norms.last().copied().unwrap_or(f64::NAN);
        self.norms
            .get(fact_recall::FACT_POSITION)
            .map_or(f64::NAN, |f| f / last)
    }
}

/// A batch of token sequences `[B, T]`.
pub type Tokens = Tensor<(usize, usize), usize, Cpu>;

/// Tokens `[B, T]` of the sentences `indices` on `dev`, and their answers.
fn token_batch(
    data: &FactRecall,
    indices: &[usize],
    dev: &Cpu,
) -> sxima::Result<(Tokens, Vec<usize>)> {
    let (tokens, answers) = data.gather(indices);
    let t = dev
        .try_tensor_from_vec(tokens, (indices.len(), data.seq_len()))
        .map_err(|e| sxima::Error::data("token batch", "a device tensor", format!("{e:?}")))?;
    Ok((t, answers))
}

fn dev_err(e: impl std::fmt::Debug) -> sxima::Error {
    sxima::Error::data("long_term_dependency", "a device result", format!("{e:?}"))
}

/// Starts a gated cell leaning towards keeping its state: the bias of gate 1
/// (the LSTM's forget gate `f`, the GRU's update gate `z`; PyTorch's gate
/// order) is 1, so the gate starts at `σ(1) ≈ 0.73` instead of `≈ 0.5`.
/// For the LSTM this is Keras's `unit_forget_bias` (Gers et al. 2000,
/// Jozefowicz et al. 2015); for the GRU (`h = (1 - z) n + z h`) it is the
/// same idea. Sets `bias_ih_l0[H..2H] = 1`, `bias_hh_l0[H..2H] = 0`; a
/// SimpleRnn (one gate) has no such gate and is left alone.
pub fn remember_bias<K: CellKind, const M: usize, const H: usize, R: ReturnMode>(
    rnn: &mut Recurrent<M, H, K, f32, Cpu, R>,
) {
    if K::GATES > 1 {
        for (bias, value) in [(&mut rnn.bias_ih, 1.0), (&mut rnn.bias_hh, 0.0)] {
            let mut b = bias.as_vec();
            b[H..2 * H].fill(value);
            bias.copy_from(&b);
        }
    }
}

/// A new `Recaller<K>` with weights drawn from `seed` and [`remember_bias`].
pub fn fresh<K: CellKind, const M: usize, const H: usize>(
    seed: u64,
) -> sxima::Result<Recaller<K, M, H, f32, Cpu>> {
    let dev = Cpu::seed_from_u64(seed);
    let mut model =
        <Recaller<K, M, H, f32, Cpu> as BuildModule<Cpu, f32>>::try_build(&dev).map_err(dev_err)?;
    remember_bias(&mut model.rnn);
    Ok(model)
}

/// Trains a fresh `Recaller<K>` (weights from `settings.seed`) on `train`
/// with Adam at `lr`; returns it and the mean training loss of each epoch.
pub fn train<K: CellKind, const M: usize, const H: usize>(
    train: &FactRecall,
    settings: &Settings,
    lr: f64,
) -> sxima::Result<(Recaller<K, M, H, f32, Cpu>, Vec<f64>)> {
    let mut model = fresh::<K, M, H>(settings.seed)?;
    let dev = model.head.weight.device().clone();
    let mut opt = Adam::new(AdamConfig {
        lr,
        clip: Some(Clip::Norm(settings.clip)),
        ..Default::default()
    })?;
    let mut grads = model.try_alloc_grads().map_err(dev_err)?;
    let mut losses = Vec::with_capacity(settings.epochs);
    for epoch in 0..settings.epochs {
        let order = sxima::data::permutation(train.len(), settings.seed, epoch);
        let (mut sum, mut batches) = (0.0, 0usize);
        for idx in order.chunks(settings.batch.max(1)) {
            let (tokens, answers) = token_batch(train, idx, &dev)?;
            let x = Module::try_forward(&model.embedding, tokens.traced(grads)).map_err(dev_err)?;
            let logits = model.logits(x).map_err(dev_err)?;
            let logits = logits
                .try_reshape_like(&(idx.len(), LANGUAGES))
                .map_err(dev_err)?;
            let loss = SparseCrossEntropy.try_loss(logits, &Target::Classes(&answers))?;
            sum += f64::from(loss.array());
            batches += 1;
            grads = loss.try_backward().map_err(dev_err)?;
            opt.step(&mut model, &grads)?;
            model.try_zero_grads(&mut grads).map_err(dev_err)?;
        }
        let mean = sum / batches.max(1) as f64;
        if !mean.is_finite() {
            return Err(sxima::Error::data(
                format!("training loss, epoch {}", epoch + 1),
                "a finite value",
                format!("{mean}"),
            ));
        }
        losses.push(mean);
    }
    Ok((model, losses))
}

/// Held-out accuracy of `model` on `test`.
pub fn accuracy<K: CellKind, const M: usize, const H: usize>(
    model: &Recaller<K, M, H, f32, Cpu>,
    test: &FactRecall,
) -> sxima::Result<f64> {
    let dev = model.head.weight.device().clone();
    let mut correct = 0usize;
    let all: Vec<usize> = (0..test.len()).collect();
    for idx in all.chunks(256) {
        let (tokens, answers) = token_batch(test, idx, &dev)?;
        let x = Module::try_forward(&model.embedding, tokens).map_err(dev_err)?;
        let logits = model.logits(x).map_err(dev_err)?.as_vec();
        for (row, &answer) in logits.chunks(LANGUAGES).zip(&answers) {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            correct += usize::from(best.0 == answer);
        }
    }
    Ok(correct as f64 / test.len().max(1) as f64)
}

/// Mean over the sentences of `data` of `‖∂loss_i/∂x_{i,t}‖` for each step
/// `t`, where `x` is the embedded input, traced as a leaf of dfdx's tape.
pub fn gradient_profile<K: CellKind, const M: usize, const H: usize>(
    model: &Recaller<K, M, H, f32, Cpu>,
    data: &FactRecall,
) -> sxima::Result<Vec<f64>> {
    let dev = model.head.weight.device().clone();
    let (t_len, n) = (data.seq_len(), data.len());
    let all: Vec<usize> = (0..n).collect();
    let (tokens, answers) = token_batch(data, &all, &dev)?;
    let x = Module::try_forward(&model.embedding, tokens).map_err(dev_err)?;
    // A leaky tape keeps the gradient of the non-parameter leaf `x`.
    let logits = model.logits(x.leaky_trace()).map_err(dev_err)?;
    let logits = logits.try_reshape_like(&(n, LANGUAGES)).map_err(dev_err)?;
    let loss = SparseCrossEntropy.try_loss(logits, &Target::Classes(&answers))?;
    let mut grads = loss.try_backward().map_err(dev_err)?;
    grads.try_alloc_for(&x).map_err(dev_err)?;
    // The loss is the batch mean, so sentence i's own gradient is
    // n * ∂loss/∂x_i, and the mean over i of its norm is the sum over i of
    // ‖∂loss/∂x_i‖.
    let g = grads.get(&x).as_vec();
    let mut norms = vec![0.0f64; t_len];
    for sentence in g.chunks(t_len * M) {
        for (t, step) in sentence.chunks(M).enumerate() {
            let sq: f64 = step.iter().map(|&v| f64::from(v).powi(2)).sum();
            norms[t] += sq.sqrt();
        }
    }
    Ok(norms)
}

/// Trains and scores one cell on one gap.
fn score<K: CellKind, const M: usize, const H: usize>(
    cell: &'static str,
    train_set: &FactRecall,
    test_set: &FactRecall,
    settings: &Settings,
) -> sxima::Result<(Score, Recaller<K, M, H, f32, Cpu>)> {
    let lr = settings.lr[CELLS.iter().position(|c| *c == cell).unwrap_or(0)];
    let (model, losses) = train::<K, M, H>(train_set, settings, lr)?;
    let accuracy = accuracy(&model, test_set)?;
    Ok((
        Score {
            cell,
            gap: train_set.gap(),
            accuracy,
            losses,
        },
        model,
    ))
}

/// A training thread's result; a panic in it becomes an error.
fn joined<T>(r: std::thread::Result<sxima::Result<T>>) -> sxima::Result<T> {
    r.unwrap_or_else(|_| Err(sxima::Error::data("training thread", "a result", "a panic")))
}

/// Everything the experiment measures.
pub struct Results {
    /// One per cell and gap, in the order of [`CELLS`] then gaps.
    pub scores: Vec<Score>,
    /// SimpleRnn and LSTM, initial and trained, on the longest gap.
    pub gradients: Vec<GradientProfile>,
}

/// Runs the experiment with embedding size `M` and hidden size `H`.
pub fn run<const M: usize, const H: usize>(settings: &Settings) -> sxima::Result<Results> {
    let mut scores = Vec::new();
    let mut gradients = Vec::new();
    let longest = settings.gaps.iter().copied().max().unwrap_or(0);
    for &gap in &settings.gaps {
        let train_set = FactRecall::generate(settings.train, gap, settings.seed);
        let test_set = FactRecall::generate(settings.test, gap, settings.seed + 1);
        let (rnn, lstm, gru) = std::thread::scope(|s| {
            let rnn =
                s.spawn(|| score::<TanhCell, M, H>(CELLS[0], &train_set, &test_set, settings));
            let lstm =
                s.spawn(|| score::<LstmCell, M, H>(CELLS[1], &train_set, &test_set, settings));
            let gru = score::<GruCell, M, H>(CELLS[2], &train_set, &test_set, settings);
            (rnn.join(), lstm.join(), gru)
        });
        let (rnn, lstm, gru) = (joined(rnn)?, joined(lstm)?, gru?);
        if gap == longest {
            let probe = FactRecall::generate(settings.test.min(256), gap, settings.seed + 2);
            let rnn0 = fresh::<TanhCell, M, H>(settings.seed)?;
            let lstm0 = fresh::<LstmCell, M, H>(settings.seed)?;
            let gru0 = fresh::<GruCell, M, H>(settings.seed)?;
            for (cell, when, norms) in [
                (CELLS[0], "initial", gradient_profile(&rnn0, &probe)?),
                (CELLS[0], "trained", gradient_profile(&rnn.1, &probe)?),
                (CELLS[1], "initial", gradient_profile(&lstm0, &probe)?),
                (CELLS[1], "trained", gradient_profile(&lstm.1, &probe)?),
                (CELLS[2], "initial", gradient_profile(&gru0, &probe)?),
                (CELLS[2], "trained", gradient_profile(&gru.1, &probe)?),
            ] {
                gradients.push(GradientProfile { cell, when, norms });
            }
        }
        scores.extend([rnn.0, lstm.0, gru.0]);
    }
    scores.sort_by_key(|s| (CELLS.iter().position(|c| *c == s.cell), s.gap));
    Ok(Results { scores, gradients })
}

/// Chance level: one answer in [`LANGUAGES`].
pub const CHANCE: f64 = 1.0 / LANGUAGES as f64;

fn main() -> sxima::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let out = PathBuf::from(value("--out").unwrap_or_else(|| "out".into()));
    let mut settings = if quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    if let Some(seed) = value("--seed").and_then(|s| s.parse().ok()) {
        settings.seed = seed;
    }
    if let Some(e) = value("--epochs").and_then(|s| s.parse().ok()) {
        settings.epochs = e;
    }
    if let Some(n) = value("--train").and_then(|s| s.parse().ok()) {
        settings.train = n;
    }
    if let Some(b) = value("--batch").and_then(|s| s.parse().ok()) {
        settings.batch = b;
    }
    if let Some(lr) = value("--lr").and_then(|s| s.parse().ok()) {
        settings.lr = [lr; 3];
    }
    if let Some(gaps) = value("--gaps") {
        settings.gaps = gaps
            .split(',')
            .filter_map(|g| g.trim().parse().ok())
            .collect();
    }
    let example = FactRecall::generate(1, 6, settings.seed);
    println!(
        "e.g. \"{} ___\" -> {}",
        example.text(0),
        fact_recall::COUNTRIES[example.answers()[0]].1
    );
    println!(
        "{} training / {} held-out sentences per gap, {} epochs, batch {}, Adam lr {:?} ({}), clip norm {}",
        settings.train,
        settings.test,
        settings.epochs,
        settings.batch,
        settings.lr,
        CELLS.join(", "),
        settings.clip
    );
    let started = std::time::Instant::now();
    let results = run::<16, 32>(&settings)?;
    println!("held-out accuracy (chance {:.1}%)", 100.0 * CHANCE);
    print!("{:>10}", "gap");
    for g in &settings.gaps {
        print!("{g:>8}");
    }
    println!();
    for cell in CELLS {
        print!("{cell:>10}");
        for s in results.scores.iter().filter(|s| s.cell == cell) {
            print!("{:>7.1}%", 100.0 * s.accuracy);
        }
        println!();
    }
    println!("gradient norm ‖∂loss/∂x_t‖ at the fact (step 3) / at the last step:");
    for p in &results.gradients {
        println!("{:>10} {:>8}: {:.3e}", p.cell, p.when, p.fact_over_last());
    }
    println!("({:.0} s)", started.elapsed().as_secs_f64());
    std::fs::create_dir_all(&out).map_err(|source| sxima::Error::Io {
        path: out.clone(),
        source,
    })?;
    let acc = out.join("long_term_accuracy.png");
    let grad = out.join("long_term_gradients.png");
    plot(&acc, |p| draw_accuracy(p, &results.scores, &settings.gaps))?;
    // SimpleRnn against LSTM: the lecture's comparison.
    let drawn: Vec<GradientProfile> = results
        .gradients
        .iter()
        .filter(|p| p.cell != CELLS[2])
        .cloned()
        .collect();
    plot(&grad, |p| draw_gradients(p, &drawn))?;
    println!("plots: {} {}", acc.display(), grad.display());
    Ok(())
}

fn plot(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), Box<dyn std::error::Error>>,
) -> sxima::Result<()> {
    let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    draw(path).map_err(|e| sxima::Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("plot: {e}")),
    })
}

const COLORS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
];

fn draw_accuracy(
    path: &Path,
    scores: &[Score],
    gaps: &[usize],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_hi = gaps.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "George lives in Greece … George speaks fluent ___",
            ("sans-serif", 22),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_hi * 1.05, 0f64..105f64)?;
    c.configure_mesh()
        .x_desc("gap (filler words between the fact and the question)")
        .y_desc("held-out accuracy (%)")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for (cell, color) in CELLS.iter().zip(COLORS) {
        let pts: Vec<(f64, f64)> = scores
            .iter()
            .filter(|s| s.cell == *cell)
            .map(|s| (s.gap as f64, 100.0 * s.accuracy))
            .collect();
        c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(*cell)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        c.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    let chance = 100.0 * CHANCE;
    let grey = RGBColor(110, 110, 110);
    c.draw_series(DashedLineSeries::new(
        vec![(0.0, chance), (x_hi * 1.05, chance)],
        8,
        6,
        grey.stroke_width(2),
    ))?
    .label(format!("chance (1/{LANGUAGES})"))
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)));
    c.configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()?;
    Ok(())
}

fn draw_gradients(
    path: &Path,
    profiles: &[GradientProfile],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let steps = profiles.iter().map(|p| p.norms.len()).max().unwrap_or(1);
    let (lo, hi) = profiles
        .iter()
        .flat_map(|p| p.norms.iter().copied())
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() {
        (lo / 3.0, hi * 3.0)
    } else {
        (1e-8, 1.0)
    };
    let mut c = ChartBuilder::on(&root)
        .caption(
            "gradient reaching the input at each step",
            ("sans-serif", 22),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..steps as f64 - 0.5, (lo..hi).log_scale())?;
    c.configure_mesh()
        .x_desc("time step t (the fact is at t = 3, the answer after the last)")
        .y_desc("mean ‖∂loss/∂x_t‖ (log)")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for p in profiles {
        let color = COLORS[CELLS.iter().position(|c| *c == p.cell).unwrap_or(0)];
        let pts: Vec<(f64, f64)> = p
            .norms
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0 && v.is_finite())
            .map(|(t, &v)| (t as f64, v))
            .collect();
        let label = format!(
            "{} {} (fact/last = {:.1e})",
            p.cell,
            p.when,
            p.fact_over_last()
        );
        if p.when == "trained" {
            c.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        } else {
            let faded = color.mix(0.6);
            c.draw_series(DashedLineSeries::new(pts, 6, 4, faded.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], faded.stroke_width(2))
                });
        }
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()?;
    Ok(())
}
