//! Grids of small grey images as PNG: [`image_grid`] draws rows of images
//! (for example noisy inputs / model outputs / clean targets of an
//! autoencoder), each row with an optional label at its left, every image
//! scaled up by an integer factor so that 28x28 digits are visible.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::train::plot::{ensure_font, FONT};

/// Pixels between neighbouring images and around the grid.
const GAP: u32 = 6;
/// Font size of the row labels, in pixels.
const LABEL_SIZE: u32 = 18;

/// Width in pixels of the label column: room for the longest label, or 0
/// when no row has a label.
fn label_width(rows: &[(&str, Vec<&[f32]>)]) -> u32 {
    let longest = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    if longest == 0 {
        0
    } else {
        // DejaVu Sans averages a little over half the font size per glyph.
        longest as u32 * LABEL_SIZE * 6 / 10 + 2 * GAP
    }
}

/// The size in pixels of the PNG [`image_grid`] writes for these rows:
/// `(width, height)`.
pub fn image_grid_size(
    rows: &[(&str, Vec<&[f32]>)],
    h: usize,
    w: usize,
    scale: usize,
) -> (u32, u32) {
    let cols = rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0) as u32;
    let (ih, iw) = ((h * scale) as u32, (w * scale) as u32);
    let width = label_width(rows) + GAP + cols * (iw + GAP);
    let height = GAP + rows.len() as u32 * (ih + GAP);
    (width, height)
}

/// Writes a PNG to `path`: one row per entry of `rows`, its label at the left
/// and its images (each `h * w` values, row-major, grey levels in `[0, 1]`:
/// 0 black, 1 white; values outside are clipped, NaN is drawn red) side by
/// side, each pixel drawn as a `scale` x `scale` square. The file size is
/// [`image_grid_size`].
///
/// Errors when there is nothing to draw, `h`, `w` or `scale` is 0, an image
/// does not have `h * w` values, the path does not end in `.png`, or the file
/// cannot be written.
pub fn image_grid(
    path: impl AsRef<Path>,
    rows: &[(&str, Vec<&[f32]>)],
    h: usize,
    w: usize,
    scale: usize,
) -> Result<()> {
    let path = path.as_ref();
    if h == 0 || w == 0 || scale == 0 {
        return Err(Error::config(
            "image grid size",
            format!("{h}x{w} at scale {scale}"),
            "image size and scale must be positive",
        ));
    }
    if rows.iter().all(|(_, r)| r.is_empty()) {
        return Err(Error::data("image grid", "at least 1 image", "0 images"));
    }
    for (i, (label, images)) in rows.iter().enumerate() {
        if let Some((j, img)) = images.iter().enumerate().find(|(_, v)| v.len() != h * w) {
            return Err(Error::data(
                format!("image grid row {i} ({label:?}) image {j}"),
                format!("{} values ({h}x{w})", h * w),
                format!("{} values", img.len()),
            ));
        }
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext != "png" {
        return Err(Error::config(
            "image grid path",
            path.display(),
            "image grids are written as .png",
        ));
    }
    ensure_font();
    let size = image_grid_size(rows, h, w, scale);
    draw(path, size, rows, h, w, scale).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("image grid: {e}")),
    })
}

fn grey(v: f32) -> RGBColor {
    if v.is_nan() {
        return RGBColor(255, 0, 0);
    }
    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    RGBColor(g, g, g)
}

fn draw(
    path: &Path,
    size: (u32, u32),
    rows: &[(&str, Vec<&[f32]>)],
    h: usize,
    w: usize,
    scale: usize,
) -> std::result::Result<(), String> {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x0 = label_width(rows) + GAP;
    let (ih, iw) = ((h * scale) as u32, (w * scale) as u32);
    let style = TextStyle::from((FONT, LABEL_SIZE).into_font())
        .color(&BLACK)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
    for (r, (label, images)) in rows.iter().enumerate() {
        let y0 = GAP + r as u32 * (ih + GAP);
        if !label.is_empty() {
            root.draw_text(label, &style, (GAP as i32, (y0 + ih / 2) as i32))
                .map_err(|e| e.to_string())?;
        }
        for (c, img) in images.iter().enumerate() {
            let left = x0 + c as u32 * (iw + GAP);
            for (k, &v) in img.iter().enumerate() {
                let color = grey(v);
                let (py, px) = ((k / w * scale) as u32, (k % w * scale) as u32);
                for dy in 0..scale as u32 {
                    for dx in 0..scale as u32 {
                        let (x, y) = (left + px + dx, y0 + py + dy);
                        root.draw_pixel((x as i32, y as i32), &color)
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// Writes `images` (each `h * w` grey values in `[0, 1]`) as a PNG grid of
/// `cols` images per row, in order, without labels (samples from a
/// generative model, for example): [`image_grid`] with rows of `cols`
/// images, so its size is [`image_grid_size`] of those rows.
///
/// Errors when `cols` is 0, and as [`image_grid`] (no image, an image of
/// the wrong length, ...).
pub fn image_tiles(
    path: impl AsRef<Path>,
    images: &[&[f32]],
    cols: usize,
    h: usize,
    w: usize,
    scale: usize,
) -> Result<()> {
    if cols == 0 {
        return Err(Error::config(
            "image tiles columns",
            cols,
            "must be positive",
        ));
    }
    let rows: Vec<(&str, Vec<&[f32]>)> = images.chunks(cols).map(|r| ("", r.to_vec())).collect();
    image_grid(path, &rows, h, w, scale)
}
