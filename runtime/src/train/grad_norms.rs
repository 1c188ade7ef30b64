//! Per-parameter gradient L2 norms, keyed by parameter path (`fc1.weight`),
//! found by walking the model with dfdx's tensor-collection visitor. `fit`
//! averages them over each epoch and warns when one vanishes or explodes.

use std::collections::BTreeMap;

use dfdx::nn::{TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef};
use dfdx::prelude::RecursiveWalker;
use dfdx::shapes::{Rank0, Shape};
use dfdx::tensor::{Gradients, Tensor};
use dfdx::tensor_ops::{Device, SumTo};

use crate::elem::Elem;
use crate::error::{DeviceResultExt, Result};
use crate::train::forward::scalar;

/// Below this a gradient norm counts as vanished.
pub const VANISHING: f64 = 1e-7;
/// Above this a gradient norm counts as exploded.
pub const EXPLODING: f64 = 1e3;

struct Norms<'a, E: Elem, D: Device<E>> {
    grads: &'a mut Gradients<E, D>,
    out: Vec<(String, f64)>,
}

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for Norms<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        if opts.do_gradient_update {
            // Allocates (zeros) if the tape never reached `t`, so `get` cannot panic.
            self.grads.get_or_alloc_mut(t)?;
            let g = self.grads.get(t);
            let sq: Tensor<Rank0, E, D> = g.try_square()?.try_sum()?;
            self.out.push((name, scalar(&sq).sqrt()));
        }
        Ok(None)
    }
}

/// The L2 norm of each trainable parameter's gradient in `grads`, in visit
/// order. Frozen tensors (no gradient update) are skipped; a parameter the
/// tape never reached gets a zero gradient allocated (norm 0).
pub fn gradient_norms<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    grads: &mut Gradients<E, D>,
) -> Result<Vec<(String, f64)>> {
    let mut v = Norms {
        grads,
        out: Vec::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut v,
    })
    .dev()?;
    Ok(v.out)
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
