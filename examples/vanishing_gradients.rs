//! Vanishing gradients: the same deep MLP (784, ten hidden Dense(32) layers,
//! 10 outputs), once with Sigmoid and once with ReLU activations, from the
//! same initial weights, trained with SGD (lr 0.01, momentum 0.9, batch 64)
//! for 3 epochs on the bundled 8,000 MNIST training digits. `fit` records
//! the mean L2 norm of every
//! parameter's gradient per epoch; the example prints the weight-gradient
//! norm of each layer in the first epoch and the ratio first layer / output
//! layer, and draws both profiles on a log scale to
//! `out/vanishing_gradients.png`.
//!
//! Backpropagation multiplies the error signal by `W^T` and by the
//! activation's derivative once per layer. The sigmoid's derivative is at
//! most 1/4, so ten sigmoid layers shrink it geometrically and the first
//! layers barely learn; ReLU's derivative is 1 where a unit is active.
//!
//! Both nets are He-initialised (`W ~ U(±sqrt(6 / fan_in))`, bias 0)
//! instead of the PyTorch default `U(±1/sqrt(fan_in))`: with the default,
//! each ReLU layer also shrinks the signal's variance (by 1/6), so after ten
//! layers the ReLU net's output hardly depends on its input and it does not
//! train either (its first/output ratio is then ~4e-3, the sigmoid's ~2e-8).
//! He init keeps a ReLU net's signal variance constant; the sigmoid still
//! vanishes.
//!
//! ```text
//! cargo run --release --example vanishing_gradients
//! cargo run --example vanishing_gradients -- --quick   # CI smoke run: 512 digits, 1 epoch
//! ```

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use sxima::prelude::*;

model! {
    /// Ten hidden sigmoid layers of 32 units.
    pub DeepSigmoid(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(32), Sigmoid,
        fc2: Dense(32), Sigmoid,
        fc3: Dense(32), Sigmoid,
        fc4: Dense(32), Sigmoid,
        fc5: Dense(32), Sigmoid,
        fc6: Dense(32), Sigmoid,
        fc7: Dense(32), Sigmoid,
        fc8: Dense(32), Sigmoid,
        fc9: Dense(32), Sigmoid,
        fc10: Dense(32), Sigmoid,
        fc11: Dense(10),
    }
}

model! {
    /// The same network with ReLU.
    pub DeepRelu(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(32), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        fc4: Dense(32), ReLU,
        fc5: Dense(32), ReLU,
        fc6: Dense(32), ReLU,
        fc7: Dense(32), ReLU,
        fc8: Dense(32), ReLU,
        fc9: Dense(32), ReLU,
        fc10: Dense(32), ReLU,
        fc11: Dense(10),
    }
}

/// Number of Dense layers (10 hidden + output).
pub const LAYERS: usize = 11;
const OUT: &str = "out/vanishing_gradients.png";

/// One network's gradient profile.
pub struct Profile {
    /// `"sigmoid"` or `"relu"`.
    pub name: &'static str,
    /// Mean L2 norm of `fc{i}.weight`'s gradient over the first epoch's steps,
    /// for i = 1..=11.
    pub first_epoch: Vec<f64>,
    /// The same, averaged over all epochs.
    pub mean: Vec<f64>,
    /// Final training loss and test accuracy.
    pub loss: f64,
    pub test_accuracy: f64,
}

impl Profile {
    /// First-layer over output-layer gradient norm (first epoch).
    pub fn ratio(&self) -> f64 {
        self.first_epoch[0] / self.first_epoch[LAYERS - 1]
    }
}

fn profile<M>(
    name: &'static str,
    mut model: M,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
    seed: u64,
) -> sxima::Result<Profile>
where
    M: Model<f32, Cpu>,
    Sgd<f32, Cpu>: Optimizer<M, f32, Cpu>,
{
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    })?;
    let history = fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        train,
        FitConfig::new()
            .epochs(epochs)
            .batch_size(64)
            .seed(seed)
            .grad_norms(true)
            .silent(),
        &mut [],
    )?;
    let norm = |e: &sxima::train::EpochLogs, i: usize| -> sxima::Result<f64> {
        let key = format!("fc{i}.weight");
        e.grad_norms.get(&key).copied().ok_or_else(|| {
            sxima::Error::data("epoch logs", format!("a gradient norm for {key}"), "none")
        })
    };
    let first = &history.epochs[0];
    let first_epoch = (1..=LAYERS)
        .map(|i| norm(first, i))
        .collect::<sxima::Result<Vec<_>>>()?;
    let mut mean = vec![0.0; LAYERS];
    for e in &history.epochs {
        for (i, m) in mean.iter_mut().enumerate() {
            *m += norm(e, i + 1)? / history.epochs.len() as f64;
        }
    }
    let test_accuracy = evaluate(&model, &SparseCrossEntropy, test, 256)?
        .accuracy()
        .unwrap_or(f64::NAN);
    Ok(Profile {
        name,
        first_epoch,
        mean,
        loss: history.last().map(|e| e.loss).unwrap_or(f64::NAN),
        test_accuracy,
    })
}

/// He (Kaiming) uniform initialisation of one Dense layer: `W ~ U(-b, b)`
/// with `b = sqrt(6 / fan_in)`, bias 0.
fn he_dense<const I: usize, const O: usize>(layer: &mut layers::Dense<I, O, f32, Cpu>, dev: &Cpu) {
    let bound = (6.0 / I as f32).sqrt();
    layer.weight = dev.sample_uniform::<Rank2<O, I>>() * (2.0 * bound) - bound;
    layer.bias = dev.zeros();
}

/// [`he_dense`] on every layer `fc1..fc11` of a model.
macro_rules! he_init {
    ($m:expr, $dev:expr) => {
        he_init!($m, $dev, fc1, fc2, fc3, fc4, fc5, fc6, fc7, fc8, fc9, fc10, fc11)
    };
    ($m:expr, $dev:expr, $($f:ident),*) => {
        $(he_dense(&mut $m.$f, $dev);)*
    };
}

/// Trains both networks; `quick` uses 512 digits and one epoch.
pub fn run(quick: bool, seed: u64) -> sxima::Result<[Profile; 2]> {
    let mnist = mnist::load(mnist::default_dir())?;
    let (train, test, epochs) = if quick {
        (mnist.train.take(512), mnist.test.take(256), 1)
    } else {
        (mnist.train, mnist.test, 3)
    };
    let dev = Cpu::seed_from_u64(seed);
    let mut sigmoid_net = DeepSigmoid::<f32, Cpu>::build(&dev);
    he_init!(sigmoid_net, &dev);
    let sigmoid = profile("sigmoid", sigmoid_net, &train, &test, epochs, seed)?;
    let dev = Cpu::seed_from_u64(seed);
    let mut relu_net = DeepRelu::<f32, Cpu>::build(&dev);
    he_init!(relu_net, &dev);
    let relu = profile("relu", relu_net, &train, &test, epochs, seed)?;
    Ok([sigmoid, relu])
}

fn main() -> sxima::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let profiles = run(quick, seed)?;
    println!("mean L2 norm of each layer's weight gradient in epoch 1 (SGD lr 0.01, momentum 0.9, batch 64)");
    println!(
        "{:>6} {:>12} {:>12}",
        "layer", profiles[0].name, profiles[1].name
    );
    for i in 0..LAYERS {
        println!(
            "{:>6} {:>12.3e} {:>12.3e}",
            format!("fc{}", i + 1),
            profiles[0].first_epoch[i],
            profiles[1].first_epoch[i]
        );
    }
    for p in &profiles {
        println!(
            "{:>8}: first / output layer = {:.3e}   final train loss {:.4}, test accuracy {:.1}%",
            p.name,
            p.ratio(),
            p.loss,
            100.0 * p.test_accuracy
        );
    }
    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    draw(&profiles).map_err(|e| sxima::Error::Io {
        path: OUT.into(),
        source: std::io::Error::other(format!("plot: {e}")),
    })?;
    println!("per-layer gradient norms: {OUT}");
    Ok(())
}

fn draw(profiles: &[Profile; 2]) -> Result<(), Box<dyn std::error::Error>> {
    let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let root = BitMapBackend::new(OUT, (800, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = profiles
        .iter()
        .flat_map(|p| p.first_epoch.iter().chain(&p.mean).copied());
    let (lo, hi) = all
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() {
        (lo / 3.0, hi * 3.0)
    } else {
        (1e-6, 1.0)
    };
    let mut c = ChartBuilder::on(&root)
        .caption(
            "weight-gradient norm per layer (epoch 1)",
            ("sans-serif", 22),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5f64..LAYERS as f64 + 0.5, (lo..hi).log_scale())?;
    c.configure_mesh()
        .x_labels(LAYERS)
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            if (1..=LAYERS).contains(&i) && (x - x.round()).abs() < 1e-6 {
                format!("fc{i}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .x_desc("layer (input side → output)")
        .y_desc("mean ‖∂L/∂W‖ (log)")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    let colors = [RGBColor(214, 39, 40), RGBColor(31, 119, 180)];
    for (p, color) in profiles.iter().zip(colors) {
        let pts: Vec<(f64, f64)> = p
            .first_epoch
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64, v))
            .collect();
        c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(format!("{} (first/output = {:.1e})", p.name, p.ratio()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        c.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
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
