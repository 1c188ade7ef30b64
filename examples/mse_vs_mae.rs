//! MSE versus MAE on data with outliers. The same small MLP (1-32-32-1,
//! ReLU), from the same initial weights, with the same optimizer (Adam, lr
//! 0.01, batch 32) and shuffling, is trained once with the mean squared
//! error and once with the mean absolute error on `y = 2x + 1 + noise`
//! (x in [-2, 2], noise sd 0.2), where 10% of the training targets are
//! replaced by outliers 10..20 above the line. Both are validated on clean
//! data. The squared error lets the few large residuals pull the fit up
//! (towards the conditional mean, +1.5 here); the absolute error only sees
//! their sign and fits the conditional median, i.e. the clean line.
//!
//! Prints the final clean-validation MAE and MSE of both models and draws
//! `out/mse_vs_mae.png`: the data with both fitted curves, and the
//! validation MAE per epoch.
//!
//! ```text
//! cargo run --release --example mse_vs_mae
//! cargo run --example mse_vs_mae -- --quick     # CI smoke run: fewer samples and epochs
//! ```

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use sxima::prelude::*;
use sxima::train::metrics::Mae as MaeMetric;

model! {
    /// A small regression MLP: one input, one output.
    pub Regressor(input: [1]) {
        fc1: Dense(32),
        ReLU,
        fc2: Dense(32),
        ReLU,
        fc3: Dense(1),
    }
}

const OUT: &str = "out/mse_vs_mae.png";

/// The data of one run.
pub struct Data {
    /// Training set with outliers.
    pub train: Dataset,
    /// Which training samples are outliers.
    pub outlier: Vec<bool>,
    /// Clean validation set.
    pub val: Dataset,
}

/// A deterministic generator (64-bit LCG) so the example needs no RNG crate.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The clean relation.
pub fn line(x: f64) -> f64 {
    2.0 * x + 1.0
}

/// `n_train` noisy samples with 10% outliers, `n_val` clean ones.
pub fn make_data(n_train: usize, n_val: usize, seed: u64) -> sxima::Result<Data> {
    let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut sample = |n: usize, with_outliers: bool| -> sxima::Result<(Dataset, Vec<bool>)> {
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let x = -2.0 + 4.0 * rng.uniform();
            let mut y = line(x) + 0.2 * rng.normal();
            let is_outlier = with_outliers && rng.uniform() < 0.1;
            if is_outlier {
                y = line(x) + 10.0 + 10.0 * rng.uniform();
            }
            xs.push(x as f32);
            ys.push(y as f32);
            out.push(is_outlier);
        }
        Ok((Dataset::with_values(xs, &[1], 1, ys)?, out))
    };
    let (train, outlier) = sample(n_train, true)?;
    let (val, _) = sample(n_val, false)?;
    Ok(Data {
        train,
        outlier,
        val,
    })
}

/// One trained model with its history and final clean-validation errors.
pub struct Run {
    /// `"MSE"` or `"MAE"`: the training loss.
    pub name: &'static str,
    /// The trained model.
    pub model: Regressor<f32, Cpu>,
    /// Validation MAE per epoch (clean data).
    pub val_mae: Vec<f64>,
    /// Final validation MAE.
    pub final_mae: f64,
    /// Final validation MSE.
    pub final_mse: f64,
}

/// Trains the MLP with `loss` on `data` (same seed, init and optimizer for
/// every loss).
fn train_with<L: Loss<f32, Cpu>>(
    name: &'static str,
    loss: &L,
    data: &Data,
    epochs: usize,
    seed: u64,
) -> sxima::Result<Run> {
    let dev = Cpu::seed_from_u64(seed);
    let mut model = Regressor::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })?;
    let history = fit(
        &mut model,
        &mut opt,
        loss,
        &data.train,
        FitConfig::new()
            .epochs(epochs)
            .batch_size(32)
            .seed(seed)
            .validation_data(&data.val)
            .metric(MaeMetric)
            .silent(),
        &mut [],
    )?;
    let val_mae = history.series("val_mae");
    let final_mae = evaluate(&model, &Mae, &data.val, 256)?.loss;
    let final_mse = evaluate(&model, &Mse, &data.val, 256)?.loss;
    Ok(Run {
        name,
        model,
        val_mae,
        final_mae,
        final_mse,
    })
}

/// The whole experiment: data, then the MSE run and the MAE run.
pub fn run(quick: bool, seed: u64) -> sxima::Result<(Data, [Run; 2])> {
    let (n_train, epochs) = if quick { (200, 15) } else { (1000, 60) };
    let data = make_data(n_train, 500, seed)?;
    let mse = train_with("MSE", &Mse, &data, epochs, seed)?;
    let mae = train_with("MAE", &Mae, &data, epochs, seed)?;
    Ok((data, [mse, mae]))
}

fn main() -> sxima::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let (data, runs) = run(quick, seed)?;
    println!(
        "{} training samples ({} outliers), {} clean validation samples, {} epochs",
        data.train.len(),
        data.outlier.iter().filter(|o| **o).count(),
        data.val.len(),
        runs[0].val_mae.len()
    );
    for r in &runs {
        let b = predict_one(&r.model, &[0.0])?[0];
        let w = predict_one(&r.model, &[1.0])?[0] - b;
        println!(
            "trained with {}: clean validation MAE {:.4}  MSE {:.4}   (f(0) = {b:.3}, f(1) - f(0) = {w:.3}; true 1, 2)",
            r.name, r.final_mae, r.final_mse
        );
    }
    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    draw(&data, &runs).map_err(|e| sxima::Error::Io {
        path: OUT.into(),
        source: std::io::Error::other(format!("plot: {e}")),
    })?;
    println!("fitted curves and validation MAE per epoch: {OUT}");
    Ok(())
}

fn draw(data: &Data, runs: &[Run; 2]) -> Result<(), Box<dyn std::error::Error>> {
    let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let root = BitMapBackend::new(OUT, (1280, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(640);
    let colors = [RGBColor(214, 39, 40), RGBColor(44, 160, 44)];

    // Left: the data and the fitted curves.
    let mut c = ChartBuilder::on(&left)
        .caption("training data and fits", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(-2.0f64..2.0, -4.0f64..25.0)?;
    c.configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style(("sans-serif", 14))
        .draw()?;
    let xs = data.train.features();
    let ys = match data.train.targets() {
        Targets::Values { data, .. } => data.as_slice(),
        _ => &[],
    };
    c.draw_series(xs.iter().zip(ys).zip(&data.outlier).map(|((&x, &y), &o)| {
        let color = if o {
            RGBColor(255, 127, 14)
        } else {
            RGBColor(120, 120, 120)
        };
        Circle::new((x as f64, y as f64), 2, color.mix(0.6).filled())
    }))?
    .label("training data (orange: outliers)")
    .legend(|(x, y)| Circle::new((x + 10, y), 3, RGBColor(255, 127, 14).filled()));
    c.draw_series(LineSeries::new(
        (0..=40).map(|i| {
            let x = -2.0 + 0.1 * i as f64;
            (x, line(x))
        }),
        BLACK.stroke_width(1),
    ))?
    .label("clean line y = 2x + 1")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    for (r, color) in runs.iter().zip(colors) {
        let pts: Vec<(f64, f64)> = (0..=80)
            .map(|i| {
                let x = -2.0 + 0.05 * i as f64;
                let y = predict_one(&r.model, &[x as f32]).map(|v| v[0] as f64);
                (x, y.unwrap_or(f64::NAN))
            })
            .collect();
        c.draw_series(LineSeries::new(pts, color.stroke_width(3)))?
            .label(format!("MLP trained with {}", r.name))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;

    // Right: validation MAE per epoch.
    let n = runs[0].val_mae.len().max(2);
    let hi = runs
        .iter()
        .flat_map(|r| r.val_mae.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        * 1.25;
    let mut c = ChartBuilder::on(&right)
        .caption("clean validation MAE", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(1f64..n as f64, 0f64..hi.max(1e-3))?;
    c.configure_mesh()
        .x_desc("epoch")
        .y_desc("MAE on clean data")
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .label_style(("sans-serif", 14))
        .draw()?;
    for (r, color) in runs.iter().zip(colors) {
        c.draw_series(LineSeries::new(
            r.val_mae
                .iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f64, v)),
            color.stroke_width(2),
        ))?
        .label(format!(
            "trained with {} (final {:.3})",
            r.name, r.final_mae
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
