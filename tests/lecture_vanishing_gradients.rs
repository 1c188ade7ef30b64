//! The `vanishing_gradients` example's claim on its own numbers: in a
//! 10-hidden-layer MLP the sigmoid net's first-layer weight gradient is
//! orders of magnitude smaller relative to its output layer's than the ReLU
//! net's (same initial weights, data and optimizer), the sigmoid profile
//! shrinks layer by layer towards the input, and only the ReLU net learns.

#[allow(dead_code)]
#[path = "../examples/vanishing_gradients.rs"]
mod example;

use example::{Profile, LAYERS};

fn check_profiles(sigmoid: &Profile, relu: &Profile) {
    assert_eq!((sigmoid.name, relu.name), ("sigmoid", "relu"));
    assert_eq!(sigmoid.first_epoch.len(), LAYERS);
    for v in sigmoid.first_epoch.iter().chain(&relu.first_epoch) {
        assert!(v.is_finite() && *v > 0.0, "{v}");
    }
    let (rs, rr) = (sigmoid.ratio(), relu.ratio());
    // Sigmoid: at least 3 orders of magnitude between input and output side.
    assert!(rs < 1e-3, "sigmoid first/output {rs}");
    // ReLU: same order of magnitude.
    assert!(rr > 0.1, "relu first/output {rr}");
    assert!(rs * 1e3 < rr, "sigmoid {rs} vs relu {rr}");
    // The sigmoid net's norms decrease from each layer to the one below it
    // (from the output down to fc2; fc1 sees the raw pixels and differs).
    for i in 1..LAYERS - 1 {
        let (below, above) = (sigmoid.first_epoch[i], sigmoid.first_epoch[i + 1]);
        assert!(
            below < above,
            "sigmoid fc{} {below} vs fc{} {above}",
            i + 1,
            i + 2
        );
    }
}

#[test]
fn sigmoid_gradients_vanish_relu_gradients_do_not_quick() {
    let [sigmoid, relu] = example::run(true, 1).unwrap();
    check_profiles(&sigmoid, &relu);
}

#[test]
fn sigmoid_gradients_vanish_relu_gradients_do_not_full() {
    let [sigmoid, relu] = example::run(false, 2).unwrap();
    check_profiles(&sigmoid, &relu);
    // Three epochs on 8,000 digits: the ReLU net learns, the sigmoid net
    // stays at chance.
    assert!(relu.test_accuracy > 0.7, "relu {}", relu.test_accuracy);
    assert!(
        sigmoid.test_accuracy < 0.3,
        "sigmoid {}",
        sigmoid.test_accuracy
    );
    for i in 0..LAYERS {
        assert!(sigmoid.mean[i].is_finite() && relu.mean[i].is_finite());
    }
}
