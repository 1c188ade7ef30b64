//! Plots of training curves with `plotters`: [`plot_history`] draws loss
//! (train and validation), the loss's terms (data loss and penalties) when
//! it has several, and, when recorded, accuracy side by side;
//! [`plot_series`] draws any named series. The format follows the file
//! extension: `.png` (bitmap) or `.svg`. Text uses DejaVu Sans embedded from
//! the `dejavu` crate, so no system font configuration is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};
use crate::train::history::History;

pub(crate) const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub(crate) fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid TTF; if registration failed, text would
        // be missing but drawing still reports errors through Result.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// One chart: a title, a y-axis label and named series over epochs 1..=n.
struct Chart<'a> {
    title: &'a str,
    y_label: &'a str,
    series: Vec<(String, &'a [f64])>,
    legend: SeriesLabelPosition,
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("plot: {e}")),
    }
}

fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_>,
) -> std::result::Result<(), String> {
    let n = chart
        .series
        .iter()
        .map(|(_, s)| s.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let finite = chart
        .series
        .iter()
        .flat_map(|(_, s)| s.iter())
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        lo -= 0.5;
        hi += 0.5;
    }
    let pad = (hi - lo) * 0.05;
    let x_hi = if n > 1 { n as f64 } else { 2.0 };
    let mut c = ChartBuilder::on(area)
        .caption(chart.title, (FONT, 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..x_hi, (lo - pad)..(hi + pad))
        .map_err(|e| e.to_string())?;
    let int_ticks = |x: &f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{}", x.round() as i64)
        } else {
            String::new()
        }
    };
    c.configure_mesh()
        .x_labels(n.clamp(2, 11))
        .x_label_formatter(&int_ticks)
        .x_desc("epoch")
        .y_desc(chart.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, s)) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(j, &v)| ((j + 1) as f64, v))
            .collect();
        c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        c.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    c.configure_series_labels()
        .position(chart.legend.clone())
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    charts: &[Chart<'_>],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, charts.len()));
    for (a, c) in areas.iter().zip(charts) {
        draw_chart(a, c)?;
    }
    root.present().map_err(|e| e.to_string())
}

fn render(path: &Path, charts: &[Chart<'_>]) -> Result<()> {
    ensure_font();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let size = (640 * charts.len() as u32, 480);
    match ext.as_str() {
        "png" => draw_all(BitMapBackend::new(path, size).into_drawing_area(), charts),
        "svg" => draw_all(SVGBackend::new(path, size).into_drawing_area(), charts),
        _ => {
            return Err(Error::config(
                "plot path",
                path.display(),
                "the format is chosen by extension, use .png or .svg",
            ))
        }
    }
    .map_err(|e| plot_err(path, e))
}

/// Draws `series` (name, values per epoch) on one chart titled `title`.
pub fn plot_series(path: impl AsRef<Path>, title: &str, series: &[(&str, &[f64])]) -> Result<()> {
    let chart = Chart {
        title,
        y_label: "",
        series: series.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        legend: SeriesLabelPosition::UpperRight,
    };
    render(path.as_ref(), &[chart])
}

/// Draws the loss curves (train, validation), then, when the loss has named
/// terms ([`EpochLogs::terms`](crate::train::EpochLogs::terms): data loss and
/// penalties), one curve per term, and, when the history has an `acc`
/// metric, the accuracy curves.
pub fn plot_history(history: &History, path: impl AsRef<Path>) -> Result<()> {
    if history.epochs.is_empty() {
        return Err(Error::data(
            "history",
            "at least 1 epoch to plot",
            "0 epochs",
        ));
    }
    let loss = history.series("loss");
    let val_loss: Vec<f64> = history
        .epochs
        .iter()
        .map(|e| e.val_loss.unwrap_or(f64::NAN))
        .collect();
    let acc = history.series("acc");
    let val_acc: Vec<f64> = history
        .epochs
        .iter()
        .map(|e| e.val_metrics.get("acc").copied().unwrap_or(f64::NAN))
        .collect();
    let has_val = history.epochs.iter().any(|e| e.val_loss.is_some());
    let has_val_acc = val_acc.iter().any(|v| v.is_finite());
    let title = format!("loss ({})", history.loss_name);
    let mut charts = vec![Chart {
        title: &title,
        y_label: "loss",
        series: {
            let mut s = vec![("train".to_string(), loss.as_slice())];
            if has_val {
                s.push(("validation".to_string(), val_loss.as_slice()));
            }
            s
        },
        legend: SeriesLabelPosition::UpperRight,
    }];
    let term_names = history.term_names();
    let term_series: Vec<Vec<f64>> = term_names
        .iter()
        .map(|t| {
            history
                .epochs
                .iter()
                .map(|e| e.terms.get(t).copied().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    if !term_names.is_empty() {
        charts.push(Chart {
            title: "loss terms (unweighted)",
            y_label: "value",
            series: term_names
                .iter()
                .cloned()
                .zip(term_series.iter().map(|s| s.as_slice()))
                .collect(),
            legend: SeriesLabelPosition::UpperRight,
        });
    }
    if acc.len() == history.epochs.len() {
        let mut s = vec![("train".to_string(), acc.as_slice())];
        if has_val_acc {
            s.push(("validation".to_string(), val_acc.as_slice()));
        }
        charts.push(Chart {
            title: "accuracy",
            y_label: "accuracy",
            series: s,
            legend: SeriesLabelPosition::LowerRight,
        });
    }
    render(path.as_ref(), &charts)
}

impl History {
    /// Draws this history to `path` (`.png` or `.svg`); see [`plot_history`].
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        plot_history(self, path)
    }
}
