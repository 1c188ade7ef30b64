//! History: CSV and JSON contents, JSON round trip, and plots (PNG/SVG).

#[path = "train_support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use support::temp_dir;
use sxima_runtime::train::{plot_series, EpochLogs, History};
use sxima_runtime::Error;

fn history() -> History {
    let mk = |epoch: usize, loss: f64, acc: f64, val: Option<(f64, f64)>| EpochLogs {
        epoch,
        loss,
        terms: BTreeMap::new(),
        metrics: BTreeMap::from([("acc".to_string(), acc)]),
        val_loss: val.map(|v| v.0),
        val_metrics: val
            .map(|v| BTreeMap::from([("acc".to_string(), v.1)]))
            .unwrap_or_default(),
        lr: 0.01,
        elapsed_s: 1.5,
        grad_norms: BTreeMap::from([("fc1.weight".to_string(), 0.25)]),
    };
    History {
        loss_name: "cross_entropy".into(),
        epochs: vec![
            mk(1, 0.9, 0.6, Some((1.0, 0.55))),
            mk(2, 0.5, 0.8, Some((0.6, 0.75))),
            mk(3, 0.25, 0.9, None),
        ],
        stopped_at: None,
    }
}

#[test]
fn csv_has_header_and_one_row_per_epoch() {
    let h = history();
    let csv = h.to_csv_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,loss,acc,val_loss,val_acc,lr,elapsed_s,grad_norm:fc1.weight"
    );
    assert_eq!(lines[1], "1,0.9,0.6,1,0.55,0.01,1.5,0.25");
    assert_eq!(lines[2], "2,0.5,0.8,0.6,0.75,0.01,1.5,0.25");
    assert_eq!(lines[3], "3,0.25,0.9,,,0.01,1.5,0.25");
    assert_eq!(lines.len(), 4);
    let dir = temp_dir("hist-csv");
    h.to_csv(dir.join("h.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("h.csv")).unwrap(), csv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_round_trips_and_has_named_fields() {
    let h = history();
    let v: serde_json::Value = serde_json::from_str(&h.to_json_string()).unwrap();
    assert_eq!(v["loss_name"], "cross_entropy");
    assert_eq!(v["epochs"][1]["val_metrics"]["acc"], 0.75);
    assert_eq!(v["epochs"][2]["val_loss"], serde_json::Value::Null);
    assert_eq!(v["epochs"][0]["grad_norms"]["fc1.weight"], 0.25);
    let dir = temp_dir("hist-json");
    let p = dir.join("h.json");
    h.to_json(&p).unwrap();
    assert_eq!(History::from_json(&p).unwrap(), h);
    std::fs::write(&p, "{ not json").unwrap();
    assert!(matches!(
        History::from_json(&p),
        Err(Error::DataFormat { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn series_and_get() {
    let h = history();
    assert_eq!(h.series("loss"), [0.9, 0.5, 0.25]);
    assert_eq!(h.series("val_acc"), [0.55, 0.75]);
    assert_eq!(h.epochs[0].get("acc"), Some(0.6));
    assert_eq!(h.epochs[0].get("nope"), None);
}

#[test]
fn plots_png_and_svg() {
    let dir = temp_dir("hist-plot");
    let h = history();
    let png = dir.join("history.png");
    h.plot(&png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // 2 panels of 640x480: width and height in the IHDR chunk.
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1280);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 480);
    let svg = dir.join("history.svg");
    h.plot(&svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40]);
    for label in ["loss (cross_entropy)", "accuracy", "validation", "epoch"] {
        assert!(text.contains(label), "svg lacks {label}");
    }
    plot_series(
        dir.join("s.png"),
        "two series",
        &[("a", &[1.0, 2.0, 3.0]), ("b", &[3.0, 1.0])],
    )
    .unwrap();
    assert!(std::fs::metadata(dir.join("s.png")).unwrap().len() > 1000);
    assert!(matches!(
        h.plot(dir.join("x.jpg")),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        History::default().plot(dir.join("e.png")),
        Err(Error::DataFormat { .. })
    ));
    if let Ok(keep) = std::env::var("SXIMA_KEEP_PLOTS") {
        std::fs::copy(&png, std::path::Path::new(&keep).join("history.png")).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
