//! Which optimizers escape a saddle point? The lecture's eight optimizers
//! (SGD, Momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, Nadam) start
//! at the same point `(1, 0.001)` on `f(x, y) = x² − y²`, just off the ridge
//! `y = 0`, and take 200 steps each; the example prints who gets out
//! (`|y| > 1`) and after how many steps, and draws the paths over the
//! contour lines of `f` to `out/optimizers_saddle.png`.
//!
//! The experiment itself is `sxima::optim::trajectory` (a test asserts on
//! its numbers); the learning rates and why are documented at
//! `trajectory::lecture_optimizers`: 0.01 for all methods that have a
//! learning rate, Adadelta at its rate-free 1.0. One extra run, Adagrad at
//! lr 0.1, shows that Adagrad's slow escape at 0.01 is its shrinking step.
//!
//! ```text
//! cargo run --release --example optimizers_saddle
//! cargo run --example optimizers_saddle -- --quick   # same run (it takes milliseconds), CI smoke mode
//! ```

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use sxima::optim::trajectory::{lecture_optimizers, saddle, saddle_trajectories, Trajectory};
use sxima::optim::{AdagradConfig, OptimizerConfig};

const START: (f64, f64) = (1.0, 1e-3);
const STEPS: usize = 200;
const THRESHOLD: f64 = 1.0;
const OUT: &str = "out/optimizers_saddle.png";

// Plot window.
const X_RANGE: (f64, f64) = (-0.6, 1.2);
const Y_RANGE: (f64, f64) = (-0.3, 1.5);

const COLORS: [RGBColor; 9] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(188, 189, 34),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn main() -> sxima::Result<()> {
    // `--quick` is accepted for CI; the experiment is already instant.
    let _quick = std::env::args().any(|a| a == "--quick");
    let mut optimizers = lecture_optimizers();
    optimizers.push((
        "Adagrad lr 0.1",
        OptimizerConfig::Adagrad(AdagradConfig {
            lr: 0.1,
            ..Default::default()
        }),
    ));
    let runs = saddle_trajectories(&optimizers, START, STEPS, THRESHOLD)?;

    println!("f(x, y) = x^2 - y^2, start {START:?}, {STEPS} steps, escaped = |y| > {THRESHOLD}");
    println!("{:<15} {:>22}  {:>10} {:>10}", "optimizer", "", "x", "y");
    for t in &runs {
        let (x, y) = t.last();
        let verdict = match t.escaped_at {
            Some(s) => format!("escapes after {s:>3} steps"),
            None => "stays near the saddle".to_string(),
        };
        println!("{:<15} {verdict:>22}  {x:>10.4} {y:>10.4}", t.label);
    }

    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    draw(&runs).map_err(|e| sxima::Error::Io {
        path: OUT.into(),
        source: std::io::Error::other(format!("plot: {e}")),
    })?;
    println!("trajectories over the contour lines of f: {OUT}");
    Ok(())
}

/// The part of a trajectory inside the plot window (up to and including the
/// first point that leaves it).
fn visible(t: &Trajectory) -> Vec<(f64, f64)> {
    let inside = |&(x, y): &(f64, f64)| {
        (X_RANGE.0..=X_RANGE.1).contains(&x) && (Y_RANGE.0..=Y_RANGE.1).contains(&y)
    };
    match t.points.iter().position(|p| !inside(p)) {
        Some(i) => t.points[..=i].to_vec(),
        None => t.points.clone(),
    }
}

/// Contour line `x² − y² = c`, in pieces (the hyperbola's branches), sampled
/// finely enough to look smooth.
fn contour(c: f64) -> Vec<Vec<(f64, f64)>> {
    let n = 200;
    let lin = |lo: f64, hi: f64| (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n as f64);
    if c >= 0.0 {
        // x = ±sqrt(c + y²), one branch each side.
        [1.0, -1.0]
            .iter()
            .map(|s| {
                lin(Y_RANGE.0, Y_RANGE.1)
                    .map(|y| (s * (c + y * y).sqrt(), y))
                    .collect()
            })
            .collect()
    } else {
        // y = ±sqrt(x² − c).
        [1.0, -1.0]
            .iter()
            .map(|s| {
                lin(X_RANGE.0, X_RANGE.1)
                    .map(|x| (x, s * (x * x - c).sqrt()))
                    .collect()
            })
            .collect()
    }
}

fn draw(runs: &[Trajectory]) -> Result<(), Box<dyn std::error::Error>> {
    let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let root = BitMapBackend::new(OUT, (900, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("f(x, y) = x² − y², start (1, 0.001), {STEPS} steps"),
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(X_RANGE.0..X_RANGE.1, Y_RANGE.0..Y_RANGE.1)?;

    // Background: f as a blue (low) to red (high) shading.
    let (nx, ny) = (120, 120);
    let dx = (X_RANGE.1 - X_RANGE.0) / nx as f64;
    let dy = (Y_RANGE.1 - Y_RANGE.0) / ny as f64;
    chart.draw_series((0..nx).flat_map(|i| {
        (0..ny).map(move |j| {
            let x = X_RANGE.0 + dx * i as f64;
            let y = Y_RANGE.0 + dy * j as f64;
            let v = saddle(x + dx / 2.0, y + dy / 2.0).clamp(-1.5, 1.5) / 1.5;
            let color = if v >= 0.0 {
                RGBColor(
                    255,
                    (255.0 * (1.0 - 0.35 * v)) as u8,
                    (255.0 * (1.0 - 0.35 * v)) as u8,
                )
            } else {
                RGBColor(
                    (255.0 * (1.0 + 0.35 * v)) as u8,
                    (255.0 * (1.0 + 0.35 * v)) as u8,
                    255,
                )
            };
            Rectangle::new([(x, y), (x + dx, y + dy)], color.filled())
        })
    }))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for k in -6..=6 {
        let c = 0.25 * k as f64;
        let style = if k == 0 {
            BLACK.mix(0.5).stroke_width(2)
        } else {
            BLACK.mix(0.25).stroke_width(1)
        };
        for piece in contour(c) {
            chart.draw_series(LineSeries::new(piece, style))?;
        }
    }
    chart.draw_series(std::iter::once(Cross::new(
        (0.0, 0.0),
        6,
        BLACK.stroke_width(2),
    )))?;

    for (i, t) in runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts = visible(t);
        let label = match t.escaped_at {
            Some(s) => format!("{} (out after {s})", t.label),
            None => format!("{} (stays)", t.label),
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        if let Some(&p) = pts.last() {
            chart.draw_series(std::iter::once(Circle::new(p, 4, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()?;
    Ok(())
}
