//! Scatter plots of 2-D codes coloured by class ([`plot_codes`]): one panel
//! per code (an autoencoder's, a VAE's, PCA's projection), side by side, with
//! a legend of the classes; PNG or SVG by the file extension.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::train::plot::{ensure_font, FONT};

/// Width and height in pixels of one panel.
const PANEL: (u32, u32) = (600, 600);
/// Class colours (matplotlib's tab10), repeated past 10 classes.
const CLASS_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The size in pixels of the picture [`plot_codes`] draws for `panels`
/// panels: `(600 * panels, 600)`.
pub fn plot_codes_size(panels: usize) -> (u32, u32) {
    (PANEL.0 * panels as u32, PANEL.1)
}

/// Draws each panel `(title, codes)` as a scatter of its points, side by
/// side: `codes` is `[n, 2]` row-major (x, y per point) and point `i` is
/// coloured by its class `labels[i]` (`[n]`), with a legend naming the
/// classes. The format follows the extension of `path` (`.png` or `.svg`);
/// the size is [`plot_codes_size`]. Each panel has its own axis range.
///
/// Errors when there is no panel or no point, a panel's `codes` does not
/// hold `2 * labels.len()` values, a code is not finite, the extension is
/// neither `.png` nor `.svg`, or the file cannot be written.
pub fn plot_codes(
    path: impl AsRef<Path>,
    panels: &[(&str, &[f32])],
    labels: &[usize],
) -> Result<()> {
    let path = path.as_ref();
    if panels.is_empty() {
        return Err(Error::data("code scatter", "at least 1 panel", "0 panels"));
    }
    if labels.is_empty() {
        return Err(Error::data(
            "code scatter labels",
            "at least 1 point",
            "0 points",
        ));
    }
    for (title, codes) in panels {
        if codes.len() != 2 * labels.len() {
            return Err(Error::data(
                format!("code scatter panel {title:?}"),
                format!(
                    "{} values (2 per labelled point, {} labels)",
                    2 * labels.len(),
                    labels.len()
                ),
                format!("{} values", codes.len()),
            ));
        }
        if let Some(i) = codes.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("code scatter panel {title:?} point {}", i / 2),
                "finite coordinates",
                format!("{}", codes[i]),
            ));
        }
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    ensure_font();
    let size = plot_codes_size(panels.len());
    match ext.as_str() {
        "png" => draw_all(
            BitMapBackend::new(path, size).into_drawing_area(),
            panels,
            labels,
        ),
        "svg" => draw_all(
            SVGBackend::new(path, size).into_drawing_area(),
            panels,
            labels,
        ),
        _ => {
            return Err(Error::config(
                "code scatter path",
                path.display(),
                "the format is chosen by extension, use .png or .svg",
            ))
        }
    }
    .map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("code scatter: {e}")),
    })
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[(&str, &[f32])],
    labels: &[usize],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, (title, codes)) in areas.iter().zip(panels) {
        draw_panel(area, title, codes, labels)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// `(lo, hi)` of the values, widened by 5% (and to a unit range if flat).
fn range(values: impl Iterator<Item = f32>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v as f64), b.max(v as f64))
    });
    let (lo, hi) = if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    codes: &[f32],
    labels: &[usize],
) -> std::result::Result<(), String> {
    let (x0, x1) = range(codes.iter().step_by(2).copied());
    let (y0, y1) = range(codes.iter().skip(1).step_by(2).copied());
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())?;
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    for class in 0..classes {
        if !labels.contains(&class) {
            continue;
        }
        let color = CLASS_COLORS[class % CLASS_COLORS.len()];
        let points = codes
            .chunks(2)
            .zip(labels)
            .filter(move |(_, &l)| l == class)
            .map(move |(p, _)| Circle::new((p[0] as f64, p[1] as f64), 2, color.mix(0.7).filled()));
        chart
            .draw_series(points)
            .map_err(|e| e.to_string())?
            .label(class.to_string())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())
}
