//! The saddle experiment of `examples/optimizers_saddle.rs`: on
//! `f(x, y) = x² − y²` from `(1, 0.001)`, 200 steps, the lecture's learning
//! rates (`trajectory::lecture_optimizers`). What is asserted is what the
//! run shows (and what the update rules predict):
//!
//! * plain SGD slides into the saddle: `x -> 0.98^200 ≈ 0.018` while `y`
//!   grows only by `1.02^200 ≈ 52x` to 0.05, far from escaping;
//! * Momentum and Nesterov escape (their buffer sums the small, consistent
//!   `y`-gradient: about 10x the effective step);
//! * RMSprop, Adadelta, Adam and Nadam escape: they divide by the running
//!   gradient magnitude, so tiny `y`-gradients still give full-size steps;
//! * Adagrad at lr 0.01 does *not* reach `|y| > 1` in 200 steps: it moves
//!   off the ridge at once (its first step is `lr` whatever the gradient),
//!   but its accumulated `sum g²` keeps growing, so its steps shrink; it is
//!   well past SGD (`y ≈ 0.39`, still climbing) and with lr 0.1 it escapes
//!   among the fastest.

use sxima_runtime::optim::trajectory::{lecture_optimizers, saddle_trajectories, Trajectory};
use sxima_runtime::optim::{AdagradConfig, OptimizerConfig};

const START: (f64, f64) = (1.0, 1e-3);
const STEPS: usize = 200;

fn run() -> Vec<Trajectory> {
    saddle_trajectories(&lecture_optimizers(), START, STEPS, 1.0).unwrap()
}

fn find<'a>(runs: &'a [Trajectory], label: &str) -> &'a Trajectory {
    runs.iter().find(|t| t.label == label).unwrap()
}

#[test]
fn sgd_stays_near_the_saddle_while_momentum_and_adaptive_methods_leave() {
    let runs = run();
    assert_eq!(runs.len(), 8);
    for t in &runs {
        assert_eq!(t.points.len(), STEPS + 1);
        assert_eq!(t.points[0], START);
    }

    let sgd = find(&runs, "SGD");
    let (x, y) = sgd.last();
    assert_eq!(sgd.escaped_at, None);
    assert!(y.abs() < 0.1 && x.abs() < 0.05, "SGD ended at ({x}, {y})");
    assert!(sgd.points.iter().all(|p| p.1.abs() < 0.1));

    for label in [
        "Momentum", "Nesterov", "Adadelta", "RMSprop", "Adam", "Nadam",
    ] {
        let t = find(&runs, label);
        let step = t
            .escaped_at
            .unwrap_or_else(|| panic!("{label} did not leave the saddle: {:?}", t.last()));
        assert!(step < STEPS, "{label}: {step}");
        assert!(t.last().1.abs() > 1.0, "{label}: {:?}", t.last());
    }
    // Nesterov's look-ahead gets out no later than heavy-ball momentum.
    assert!(find(&runs, "Nesterov").escaped_at <= find(&runs, "Momentum").escaped_at);

    // Adagrad at lr 0.01: off the ridge, well ahead of SGD, but not out.
    let ada = find(&runs, "Adagrad");
    let y_ada = ada.last().1;
    assert_eq!(ada.escaped_at, None);
    assert!(y_ada > 5.0 * sgd.last().1 && y_ada > 0.2, "{y_ada}");
    // Its steps in y shrink: the last 50 steps move y less than the first 50
    // although the gradient -2y is larger.
    let dy = |a: usize, b: usize| ada.points[b].1 - ada.points[a].1;
    assert!(dy(150, 200) < dy(0, 50), "{} {}", dy(150, 200), dy(0, 50));
}

#[test]
fn adagrad_with_a_larger_rate_escapes() {
    let cfg = OptimizerConfig::Adagrad(AdagradConfig {
        lr: 0.1,
        ..Default::default()
    });
    let t = &saddle_trajectories(&[("Adagrad", cfg)], START, STEPS, 1.0).unwrap()[0];
    assert!(t.escaped_at.is_some_and(|s| s < 50), "{:?}", t.escaped_at);
}

#[test]
fn without_an_offset_nobody_leaves_the_ridge() {
    // On y = 0 exactly the y-gradient is 0 for every method: all stay on
    // the ridge (the reason to start a hair off it).
    for t in saddle_trajectories(&lecture_optimizers(), (1.0, 0.0), 50, 1.0).unwrap() {
        assert!(t.points.iter().all(|p| p.1 == 0.0), "{}", t.label);
    }
}
