//! The autoencoder pictures: `plot_codes` (2-D code scatter, side-by-side
//! panels, PNG and SVG) and `image_tiles` (a grid of samples) write files of
//! the documented size, and bad inputs are `Error` values.

use std::path::PathBuf;

use sxima_runtime::analysis::{plot_codes, plot_codes_size};
use sxima_runtime::train::{image_grid_size, image_tiles};
use sxima_runtime::Error;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sxima-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (at(16), at(20))
}

#[test]
fn code_scatter_png_and_svg() {
    let dir = temp_dir("codes");
    // 30 points of 3 classes on a spiral; a second panel rotated.
    let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
    let a: Vec<f32> = (0..30)
        .flat_map(|i| {
            let t = i as f32 * 0.3;
            [t * t.cos(), t * t.sin()]
        })
        .collect();
    let b: Vec<f32> = a.chunks(2).flat_map(|p| [-p[1], p[0] * 3.0]).collect();
    for panels in [vec![("AE", &a[..])], vec![("VAE", &a[..]), ("PCA", &b[..])]] {
        let png = dir.join(format!("codes{}.png", panels.len()));
        plot_codes(&png, &panels, &labels).unwrap();
        assert_eq!(png_size(&png), plot_codes_size(panels.len()));
        assert_eq!(
            plot_codes_size(panels.len()),
            (600 * panels.len() as u32, 600)
        );
    }
    let svg = dir.join("codes.svg");
    plot_codes(&svg, &[("VAE", &a[..]), ("PCA", &b[..])], &labels).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40]);
    for word in ["VAE", "PCA"] {
        assert!(text.contains(word), "svg lacks {word}");
    }
    // One circle per point in each panel, and one legend mark per class.
    assert_eq!(text.matches("<circle").count(), 2 * (30 + 3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn code_scatter_bad_inputs_are_errors() {
    let dir = temp_dir("codes-bad");
    let p = dir.join("x.png");
    let labels = [0usize, 1];
    let codes = [0.0f32, 1.0, 2.0, 3.0];
    assert!(matches!(
        plot_codes(&p, &[], &labels),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        plot_codes(&p, &[("a", &codes[..])], &[]),
        Err(Error::DataFormat { .. })
    ));
    let e = plot_codes(&p, &[("a", &codes[..3])], &labels).unwrap_err();
    assert!(e.to_string().contains("4 values"), "{e}");
    let nan = [0.0f32, f32::NAN, 2.0, 3.0];
    assert!(matches!(
        plot_codes(&p, &[("a", &nan[..])], &labels),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        plot_codes(dir.join("x.jpg"), &[("a", &codes[..])], &labels),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(!p.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn image_tiles_rows_of_cols_images() {
    let dir = temp_dir("tiles");
    let imgs: Vec<Vec<f32>> = (0..7).map(|i| vec![i as f32 / 7.0; 12]).collect();
    let refs: Vec<&[f32]> = imgs.iter().map(Vec::as_slice).collect();
    let path = dir.join("tiles.png");
    image_tiles(&path, &refs, 3, 3, 4, 2).unwrap();
    // 7 images in rows of 3: 3 rows, 3 columns.
    let rows: Vec<(&str, Vec<&[f32]>)> = refs.chunks(3).map(|r| ("", r.to_vec())).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(png_size(&path), image_grid_size(&rows, 3, 4, 2));
    assert!(matches!(
        image_tiles(&path, &refs, 0, 3, 4, 2),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        image_tiles(&path, &[], 3, 3, 4, 2),
        Err(Error::DataFormat { .. })
    ));
    assert!(matches!(
        image_tiles(&path, &refs, 3, 4, 4, 2),
        Err(Error::DataFormat { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
