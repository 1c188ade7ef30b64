//! Values of the composite nodes' forward passes against the same
//! computation written out: identity and projection shortcuts, concatenation
//! of features, and per-channel gates `[C, 1, 1]` (add) and `[C]` (mul).

use sxima::__private::dfdx::prelude::*;
use sxima::prelude::*;

model! {
    /// `x + d(x)`.
    pub Skip(input: [4]) {
        residual { d: Dense(4) },
    }

    /// `[a(x), x]`.
    pub Feat(input: [3]) {
        parallel(concat) {
            a { Dense(2) }
            b { }
        }
    }

    /// `x + mean_hw(x)`, then `* max_hw(x)` per channel.
    pub Gates(input: [2, 2, 3]) {
        plus: parallel(add) {
            x { }
            g { AdaptiveAvgPool2d(1) }
        },
        times: parallel(mul) {
            x { }
            g { GlobalMaxPool }
        },
    }
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

#[test]
fn identity_shortcut_adds_the_input() {
    let dev = Cpu::seed_from_u64(3);
    let m = Skip::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<2, 4>, f32, Cpu> = dev.sample_normal();
    let want = (m.d.forward(x.clone()) + x.clone()).as_vec();
    assert!(close(&m.forward(x).as_vec(), &want));
}

#[test]
fn concat_puts_branches_side_by_side() {
    let dev = Cpu::seed_from_u64(4);
    let m = Feat::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<2, 3>, f32, Cpu> = dev.sample_normal();
    let a = m.a.forward(x.clone()).as_vec();
    let xs = x.as_vec();
    let y = m.forward(x).as_vec();
    for row in 0..2 {
        assert!(close(&y[row * 5..row * 5 + 2], &a[row * 2..row * 2 + 2]));
        assert!(close(
            &y[row * 5 + 2..row * 5 + 5],
            &xs[row * 3..row * 3 + 3]
        ));
    }
}

#[test]
fn channel_gates_broadcast_over_height_and_width() {
    let dev = Cpu::default();
    let m = Gates::<f32, Cpu>::build(&dev);
    let v: Vec<f32> = (0..12).map(|i| i as f32 - 4.0).collect();
    let x: Tensor<Rank4<1, 2, 2, 3>, f32, Cpu> = dev.tensor(v.clone());
    let mut want = Vec::new();
    for c in 0..2 {
        let ch = &v[c * 6..c * 6 + 6];
        let mean = ch.iter().sum::<f32>() / 6.0;
        let plus: Vec<f32> = ch.iter().map(|a| a + mean).collect();
        let max = plus.iter().cloned().fold(f32::MIN, f32::max);
        want.extend(plus.iter().map(|a| a * max));
    }
    assert!(close(&m.forward(x).as_vec(), &want));
}
