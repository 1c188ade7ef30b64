//! Squared L2 norm of a gradient buffer in host memory: `Cpu`'s
//! [`Backend::grad_sq_norm`](crate::backend::Backend::grad_sq_norm), read
//! straight from the buffer (no tensor op, no copy).

use crate::elem::{to_f64, Elem};

/// `sum(v^2)`: squares summed in `E` over 8 lanes within blocks of 1024
/// elements (so the loop vectorises), blocks summed in `f64`.
pub(crate) fn sq_norm<E: Elem>(v: &[E]) -> f64 {
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
        total += acc.iter().map(|&a| to_f64(a)).sum::<f64>();
        total += tail.iter().map(|&x| to_f64(x) * to_f64(x)).sum::<f64>();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_f64_sum() {
        let v: Vec<f32> = (0..5003)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let want = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let got = sq_norm(&v);
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        assert_eq!(sq_norm::<f64>(&[3.0, 4.0]), 25.0);
        assert!(sq_norm(&[1.0f32, f32::NAN]).is_nan());
        assert_eq!(sq_norm::<f32>(&[]), 0.0);
    }
}
