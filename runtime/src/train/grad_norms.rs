//! Per-parameter gradient L2 norms, keyed by parameter path (`fc1.weight`),
//! found by walking the model with dfdx's tensor-collection visitor. `fit`
//! averages them over each epoch and warns when one vanishes or explodes.
//!
//! On `Cpu` the norms are read straight from the gradient buffers in one
//! pass (no tensor op, no copy); [`gradient_norms_generic`] is the dfdx-op
//! path every other device uses, and tests compare the two.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;

use dfdx::nn::{TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef};
use dfdx::prelude::RecursiveWalker;
use dfdx::shapes::{Rank0, Shape};
use dfdx::tensor::{Cpu, Gradients, Storage, Tensor};
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
    /// Read `Cpu` gradient buffers directly.
    host: bool,
}

/// The L2 norm of a host buffer: squares summed in `E` over 8 lanes within
/// blocks of 1024 elements (so the loop vectorises), blocks summed in `f64`.
fn host_norm<E: Elem>(v: &[E]) -> f64 {
    let f = |x: E| num_traits::ToPrimitive::to_f64(&x).unwrap_or(f64::NAN);
    let mut total = 0.0f64;
    for block in v.chunks(1024) {
        let mut acc = [E::zero(); 8];
        let lanes = block.chunks_exact(8);
        let tail = lanes.remainder();
        for c in lanes {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += x * x;
            }
        }
        total += acc.iter().map(|&a| f(a)).sum::<f64>();
        total += tail.iter().map(|&x| f(x) * f(x)).sum::<f64>();
    }
    total.sqrt()
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
            let buf = self.grads.get_or_alloc_mut(t)?;
            let host = if self.host {
                (buf as &mut dyn Any)
                    .downcast_mut::<<Cpu as Storage<E>>::Vec>()
                    .map(|v| host_norm(&v[..]))
            } else {
                None
            };
            let norm = match host {
                Some(n) => n,
                None => {
                    let g = self.grads.get(t);
                    let sq: Tensor<Rank0, E, D> = g.try_square()?.try_sum()?;
                    scalar(&sq).sqrt()
                }
            };
            self.out.push((name, norm));
        }
        Ok(None)
    }
}

/// The L2 norm of each trainable parameter's gradient in `grads`, in visit
/// order. Frozen tensors (no gradient update) are skipped; a parameter the
/// tape never reached gets a zero gradient allocated (norm 0). On `Cpu` the
/// buffers are read directly (sums in `f64`).
pub fn gradient_norms<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    grads: &mut Gradients<E, D>,
) -> Result<Vec<(String, f64)>> {
    norms_impl(model, grads, TypeId::of::<D>() == TypeId::of::<Cpu>())
}

/// [`gradient_norms`] computed with dfdx ops (`square`, `sum`) on any device.
pub fn gradient_norms_generic<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    grads: &mut Gradients<E, D>,
) -> Result<Vec<(String, f64)>> {
    norms_impl(model, grads, false)
}

fn norms_impl<E: Elem, D: Device<E>, M: TensorCollection<E, D>>(
    model: &M,
    grads: &mut Gradients<E, D>,
    host: bool,
) -> Result<Vec<(String, f64)>> {
    let mut v = Norms {
        grads,
        out: Vec::new(),
        host,
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
    use dfdx::nn::builders::Linear;
    use dfdx::nn::{DeviceBuildExt, Module, ZeroGrads};
    use dfdx::prelude::*;

    #[test]
    fn host_norm_matches_f64_sum() {
        let v: Vec<f32> = (0..5003)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let want = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        let got = host_norm(&v);
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        assert_eq!(host_norm::<f64>(&[3.0, 4.0]), 5.0);
        assert!(host_norm(&[1.0f32, f32::NAN]).is_nan());
        assert_eq!(host_norm::<f32>(&[]), 0.0);
    }

    #[test]
    fn cpu_fast_path_matches_generic_norms() {
        let dev = Cpu::seed_from_u64(3);
        let m = dev.build_module::<(Linear<5, 4>, Linear<4, 3>), f32>();
        let x: Tensor<Rank2<6, 5>, f32, _> = dev.sample_normal();
        let y = m.forward(x.traced(m.alloc_grads()));
        let mut g = y.square().mean().backward();
        let fast = gradient_norms(&m, &mut g).unwrap();
        let slow = gradient_norms_generic(&m, &mut g).unwrap();
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
