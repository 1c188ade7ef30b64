//! The `mse_vs_mae` example's claim, on its own numbers: with 10% one-sided
//! outliers in the training targets, the MLP trained with MAE fits the clean
//! line (clean-validation MAE near the noise level, 0.2 * sqrt(2/pi) = 0.16)
//! while the one trained with MSE is pulled towards the outliers (their mean
//! shift is about +1.5), so its clean-validation error is several times
//! larger.

#[allow(dead_code)]
#[path = "../examples/mse_vs_mae.rs"]
mod example;

fn check(quick: bool, seed: u64) {
    let (data, [mse, mae]) = example::run(quick, seed).unwrap();
    let outliers = data.outlier.iter().filter(|o| **o).count() as f64;
    let share = outliers / data.train.len() as f64;
    assert!((0.05..0.15).contains(&share), "outlier share {share}");
    assert_eq!((mse.name, mae.name), ("MSE", "MAE"));
    let tag = format!(
        "quick {quick} seed {seed}: MSE-trained {:.3}/{:.3}, MAE-trained {:.3}/{:.3}",
        mse.final_mae, mse.final_mse, mae.final_mae, mae.final_mse
    );
    assert!(mae.final_mae < 0.35, "{tag}");
    assert!(mse.final_mae > 0.5, "{tag}");
    assert!(mae.final_mae * 2.5 < mse.final_mae, "{tag}");
    assert!(mae.final_mse < mse.final_mse, "{tag}");
    // The whole curve, not just the last epoch: from the second half of
    // training on, every epoch's MAE-trained error is below the MSE-trained one.
    let half = mse.val_mae.len() / 2;
    for (e, (a, b)) in mae.val_mae.iter().zip(&mse.val_mae).enumerate().skip(half) {
        assert!(a < b, "{tag}: epoch {}: {a} vs {b}", e + 1);
    }
}

#[test]
fn mae_is_robust_to_outliers_full_run() {
    check(false, 1);
}

#[test]
fn mae_is_robust_to_outliers_quick_runs_other_seeds() {
    for seed in [2, 3, 4] {
        check(true, seed);
    }
}
