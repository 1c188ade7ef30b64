//! Per-parameter gradient L2 norms for `fit`'s monitoring, keyed by parameter
//! path (`fc1.weight`): `fit` averages them over each epoch and warns when one
//! vanishes or explodes.
//!
//! The norms come from the one gradient-norm walk (`optim::grads`), in its
//! exclusive mode: every trainable parameter is reported and the device reads
//! its gradient buffers in place (on `Cpu`: no tensor op, no copy).

use std::collections::BTreeMap;

use dfdx::nn::TensorCollection;
use dfdx::tensor::Gradients;

use crate::backend::Backend;
use crate::elem::Elem;
use crate::error::Result;
use crate::optim::grads::{sq_norms, GradsRef};

/// Below this a gradient norm counts as vanished.
pub const VANISHING: f64 = 1e-7;
/// Above this a gradient norm counts as exploded.
pub const EXPLODING: f64 = 1e3;

/// The L2 norm of each trainable parameter's gradient in `grads`, in visit
/// order. Frozen tensors (no gradient update) are skipped; a parameter the
/// tape never reached gets a zero gradient allocated (norm 0), which is why
/// `grads` is `&mut` (gradients from `alloc_grads`, as `fit` uses, already
/// hold every parameter). For read-only gradients, which skip parameters
/// without one, see [`crate::optim::grad_norms`].
pub fn gradient_norms<E: Elem, D: Backend<E>, M: TensorCollection<E, D>>(
    model: &M,
    grads: &mut Gradients<E, D>,
) -> Result<Vec<(String, f64)>> {
    Ok(sq_norms(model, GradsRef::Exclusive(grads))?
        .into_iter()
        .map(|(k, v)| (k, v.sqrt()))
        .collect())
}

/// Running sums of gradient norms over an epoch.
#[derive(Debug, Default, Clone)]
pub struct NormAccumulator {
    sums: BTreeMap<String, (f64, usize)>,
}

impl NormAccumulator {
    /// Adds one step's norms.
    pub fn add(&mut self, norms: &[(String, f64)]) {
        for (k, v) in norms {
            let e = self.sums.entry(k.clone()).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    /// Mean norm per parameter.
    pub fn means(&self) -> BTreeMap<String, f64> {
        self.sums
            .iter()
            .map(|(k, (s, n))| (k.clone(), s / (*n).max(1) as f64))
            .collect()
    }
}

/// Warning lines for norms that vanished (< [`VANISHING`]) or exploded
/// (> [`EXPLODING`]).
pub fn warnings(epoch: usize, norms: &BTreeMap<String, f64>) -> Vec<String> {
    norms
        .iter()
        .filter_map(|(k, v)| {
            if *v < VANISHING {
                Some(format!(
                    "warning: epoch {epoch}: gradient of {k} vanishes (mean L2 norm {v:.3e} < {VANISHING:e})"
                ))
            } else if *v > EXPLODING || !v.is_finite() {
                Some(format!(
                    "warning: epoch {epoch}: gradient of {k} explodes (mean L2 norm {v:.3e} > {EXPLODING:e})"
                ))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::nn::builders::Linear;
    use dfdx::nn::{DeviceBuildExt, Module, ZeroGrads};
    use dfdx::prelude::*;

    #[test]
    fn cpu_fast_path_matches_generic_norms() {
        let dev = Cpu::seed_from_u64(3);
        let m = dev.build_module::<(Linear<5, 4>, Linear<4, 3>), f32>();
        let x: Tensor<Rank2<6, 5>, f32, _> = dev.sample_normal();
        let y = m.forward(x.traced(m.alloc_grads()));
        let mut g = y.square().mean().backward();
        // Cpu's in-place kernel (exclusive walk) against dfdx ops (shared walk).
        let fast = gradient_norms(&m, &mut g).unwrap();
        let slow: Vec<(String, f64)> = crate::optim::grad_norms(&m, &g)
            .unwrap()
            .into_iter()
            .collect();
        let slow: Vec<(String, f64)> = fast
            .iter()
            .map(|(k, _)| (k.clone(), slow.iter().find(|(n, _)| n == k).unwrap().1))
            .collect();
        assert_eq!(fast.len(), 4);
        for ((nf, vf), (ns, vs)) in fast.iter().zip(&slow) {
            assert_eq!(nf, ns);
            assert!(*vf > 0.0);
            assert!((vf - vs).abs() <= 1e-5 * vs.max(1.0), "{nf}: {vf} vs {vs}");
        }
        // By hand for the last bias.
        let gb = g.get(&m.1.bias).as_vec();
        let want = gb.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!((fast[3].1 - want).abs() < 1e-9, "{} vs {want}", fast[3].1);
        assert_eq!(fast[3].0, "1.bias");
    }

    #[test]
    fn warns_on_vanishing_and_exploding_norms_only() {
        let norms: BTreeMap<String, f64> = [
            ("a.weight".to_string(), 1e-9),
            ("b.weight".to_string(), 0.5),
            ("c.weight".to_string(), 5e3),
        ]
        .into();
        let w = warnings(2, &norms);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].contains("epoch 2: gradient of a.weight vanishes"),
            "{}",
            w[0]
        );
        assert!(w[1].contains("gradient of c.weight explodes"), "{}", w[1]);
        let mut acc = NormAccumulator::default();
        acc.add(&[("x".into(), 1.0)]);
        acc.add(&[("x".into(), 3.0)]);
        assert_eq!(acc.means()["x"], 2.0);
    }
}
