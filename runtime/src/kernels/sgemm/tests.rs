//! Tests of [`sgemm`](super::sgemm) against a naive product accumulated in
//! f64, over odd sizes, strides and every path.

use super::*;

/// Deterministic values in [-1, 1) (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() + 1.0) * 0.5 * n as f32) as usize % n
    }
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next()).collect()
    }
}

/// One product: sizes, operand layouts and C's row stride.
#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    /// A stored transposed (`A[i, p]` at `p * ld + i`).
    a_t: bool,
    /// B stored transposed (`B[p, j]` at `j * ld + p`).
    b_t: bool,
    /// Extra elements per row of every operand's storage.
    pad: usize,
}

struct Operands {
    a: Vec<f32>,
    a_strides: (usize, usize),
    b: Vec<f32>,
    b_strides: (usize, usize),
    c0: Vec<f32>,
    c_rs: usize,
}

fn operands(case: Case, rng: &mut Rng) -> Operands {
    let Case {
        m,
        n,
        k,
        a_t,
        b_t,
        pad,
    } = case;
    let (a_rows, a_ld) = if a_t { (k, m + pad) } else { (m, k + pad) };
    let (b_rows, b_ld) = if b_t { (n, k + pad) } else { (k, n + pad) };
    let c_rs = n + pad;
    Operands {
        a: rng.vec(a_rows.max(1) * a_ld.max(1)),
        a_strides: if a_t { (1, a_ld) } else { (a_ld, 1) },
        b: rng.vec(b_rows.max(1) * b_ld.max(1)),
        b_strides: if b_t { (1, b_ld) } else { (b_ld, 1) },
        c0: rng.vec(m.max(1) * c_rs),
        c_rs,
    }
}

/// Runs `opts` on `ops` and checks every element of C (and that the padding
/// between C's rows is untouched) against an f64 naive product, within f32
/// rounding relative to `sum |a| |b|`. Returns C.
fn check(case: Case, ops: &Operands, opts: Opts, accumulate: bool, threaded: bool) -> Vec<f32> {
    let Case { m, n, k, .. } = case;
    let mut c = ops.c0.clone();
    sgemm_with(
        opts,
        GemmArgs {
            mnk: (m, n, k),
            dst: &mut c,
            dst_rs: ops.c_rs,
            accumulate,
            lhs: &ops.a,
            lhs_strides: ops.a_strides,
            rhs: &ops.b,
            rhs_strides: ops.b_strides,
            threaded,
        },
    );
    let at = |i: usize, p: usize| ops.a[i * ops.a_strides.0 + p * ops.a_strides.1] as f64;
    let bt = |p: usize, j: usize| ops.b[p * ops.b_strides.0 + j * ops.b_strides.1] as f64;
    for i in 0..m {
        for j in 0..ops.c_rs {
            let got = c[i * ops.c_rs + j];
            if j >= n {
                assert_eq!(
                    got,
                    ops.c0[i * ops.c_rs + j],
                    "{case:?} padding ({i}, {j}) changed"
                );
                continue;
            }
            let c0 = ops.c0[i * ops.c_rs + j] as f64;
            let (mut want, mut mag) = if accumulate {
                (c0, c0.abs())
            } else {
                (0.0, 0.0)
            };
            for p in 0..k {
                want += at(i, p) * bt(p, j);
                mag += (at(i, p) * bt(p, j)).abs();
            }
            let tol = 4.0 * f32::EPSILON as f64 * (mag + 1e-30) * ((k + 1) as f64).sqrt();
            assert!(
                (got as f64 - want).abs() <= tol,
                "{case:?} {opts:?} acc {accumulate} thr {threaded}: C[{i}, {j}] = {got}, want {want} (tol {tol})"
            );
        }
    }
    c
}

/// Fixed edge cases (sizes around MR, NR, KC, NC and 1) plus random ones.
fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let fixed = [
        (1, 1, 1),
        (1, 37, 19),
        (3, 70, 300),
        (4, 5, 33),
        (5, 1, 7),
        (7, 31, 1),
        (8, 32, 256),
        (9, 33, 257),
        (17, 65, 100),
        (16, 600, 20),
        (13, 40, 520),
        (2, 130, 513),
        (1, 7, 0),
        (6, 9, 0),
    ];
    for (i, &(m, n, k)) in fixed.iter().enumerate() {
        v.push(Case {
            m,
            n,
            k,
            a_t: i % 2 == 1,
            b_t: i % 3 == 1,
            pad: i % 4,
        });
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..30 {
        v.push(Case {
            m: 1 + rng.below(40),
            n: 1 + rng.below(100),
            k: rng.below(300),
            a_t: rng.below(2) == 1,
            b_t: rng.below(2) == 1,
            pad: if i % 3 == 0 { rng.below(5) } else { 0 },
        });
    }
    v
}

#[test]
fn every_path_matches_a_naive_product() {
    let mut rng = Rng(12345);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    // Splits even small products over the pool's threads.
    let split = |path| Opts {
        path,
        min_fmas_per_task: 1,
    };
    for case in cases() {
        let ops = operands(case, &mut rng);
        for accumulate in [false, true] {
            for path in [
                Path::Auto,
                Path::Packed,
                Path::Dot,
                Path::Axpy,
                Path::Tall,
                Path::Fallback,
            ] {
                let one = check(case, &ops, split(path), accumulate, false);
                let many = pool.install(|| check(case, &ops, split(path), accumulate, true));
                if path != Path::Fallback {
                    assert!(
                        one.iter()
                            .zip(&many)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{case:?} {path:?}: threaded result differs from single-threaded"
                    );
                }
            }
        }
    }
}

#[test]
fn default_options_match_a_naive_product() {
    let mut rng = Rng(777);
    for case in [
        Case {
            m: 1,
            n: 256,
            k: 784,
            a_t: false,
            b_t: true,
            pad: 0,
        },
        Case {
            m: 3,
            n: 100,
            k: 64,
            a_t: true,
            b_t: false,
            pad: 1,
        },
        Case {
            m: 32,
            n: 70,
            k: 288,
            a_t: false,
            b_t: false,
            pad: 2,
        },
        Case {
            m: 20,
            n: 96,
            k: 128,
            a_t: false,
            b_t: true,
            pad: 0,
        },
    ] {
        let ops = operands(case, &mut rng);
        check(case, &ops, Opts::DEFAULT, true, true);
        check(case, &ops, Opts::DEFAULT, false, false);
    }
}

#[test]
#[should_panic]
fn short_operand_panics() {
    let mut c = vec![0.0f32; 4];
    sgemm(GemmArgs {
        mnk: (2, 2, 3),
        dst: &mut c,
        dst_rs: 2,
        accumulate: false,
        lhs: &[1.0; 5],
        lhs_strides: (3, 1),
        rhs: &[1.0; 6],
        rhs_strides: (2, 1),
        threaded: false,
    });
}

/// GFLOP/s of our kernel vs the `gemm` crate on the products of the bench
/// models, single-threaded (a measurement, not a check): run with
/// `cargo test --release -p sxima-runtime --lib sgemm_vs_gemm_crate -- --ignored --nocapture`.
#[test]
#[ignore]
fn sgemm_vs_gemm_crate() {
    // (what, m, n, k, A transposed, B transposed)
    let shapes = [
        ("resnet conv fwd  W x cols", 32, 1024, 288, false, false),
        ("resnet conv64 fwd W x cols", 64, 256, 576, false, false),
        ("resnet conv dW   dY x cols^T", 32, 288, 1024, false, true),
        ("resnet conv dcol W^T x dY", 288, 1024, 32, true, false),
        ("cnn conv fwd     W x cols", 64, 64, 800, false, false),
        ("cnn conv dW      dY x cols^T", 64, 800, 64, false, true),
        ("cnn conv dcol    W^T x dY", 800, 64, 64, true, false),
        ("lstm step        h x W_hh^T", 16, 512, 128, false, true),
        ("lstm step dh     dzh x W_hh", 16, 128, 512, false, false),
        ("lstm all steps   x x W_ih^T", 512, 512, 28, false, true),
        ("lstm dW_hh       dz^T x h", 512, 128, 512, true, false),
        ("mlp fc1 fwd      x W^T", 64, 256, 784, false, true),
        ("mlp fc2 fwd      x W^T", 64, 128, 256, false, true),
        ("mlp fc1 dX       dY x W", 64, 784, 256, false, false),
        ("mlp fc1 dW       dY^T x X", 256, 784, 64, true, false),
        ("mlp fc2 dW       dY^T x X", 128, 256, 64, true, false),
        ("mlp fc1 batch-1  x W^T", 1, 256, 784, false, true),
    ];
    let mut rng = Rng(42);
    for (what, m, n, k, a_t, b_t) in shapes {
        let case = Case {
            m,
            n,
            k,
            a_t,
            b_t,
            pad: 0,
        };
        let ops = operands(case, &mut rng);
        let mut c = ops.c0.clone();
        let mut time = |path| {
            let opts = Opts {
                path,
                ..Opts::DEFAULT
            };
            let run = |c: &mut [f32]| {
                sgemm_with(
                    opts,
                    GemmArgs {
                        mnk: (m, n, k),
                        dst: c,
                        dst_rs: ops.c_rs,
                        accumulate: false,
                        lhs: &ops.a,
                        lhs_strides: ops.a_strides,
                        rhs: &ops.b,
                        rhs_strides: ops.b_strides,
                        threaded: false,
                    },
                )
            };
            run(&mut c);
            let (mut reps, t0) = (0u32, std::time::Instant::now());
            while t0.elapsed().as_secs_f64() < 0.3 {
                run(&mut c);
                reps += 1;
            }
            2.0 * (m * n * k) as f64 * reps as f64 / t0.elapsed().as_secs_f64() / 1e9
        };
        let (ours, theirs) = (time(Path::Auto), time(Path::Fallback));
        let (packed, direct) = match (a_t, b_t) {
            (false, true) => (time(Path::Packed), format!("dot {:6.1}", time(Path::Dot))),
            (_, false) => (
                time(Path::Packed),
                format!(
                    "axpy {:5.1} tall {:5.1}",
                    time(Path::Axpy),
                    time(Path::Tall)
                ),
            ),
            _ => (time(Path::Packed), String::new()),
        };
        println!(
            "{what:30} [{m:4} x {k:4}] x [{k:4} x {n:4}]  ours {ours:6.1}  gemm {theirs:6.1} GFLOP/s  ratio {:.2}  (packed {packed:6.1} {direct})",
            ours / theirs
        );
    }
}

/// The row-table product equals the `Tall` product of the same rows copied
/// into a matrix, bit for bit (same kernel, same order of sums), over odd
/// sizes and overlapping rows, with contiguous blocks and with blocks of
/// pieces that skip columns (a convolution's output rows, shorter than the
/// padded image's); with `accumulate`, added to C; C's other elements stay
/// untouched.
#[test]
fn row_table_matches_copied_rows() {
    let mut rng = Rng(2024);
    for &(m, n, k, pieces) in &[
        (1, 1, 1, false),
        (5, 17, 9, false),
        (6, 64, 27, false),
        (7, 65, 70, true),
        (13, 130, 33, true),
        (32, 200, 288, false),
        (32, 340, 288, true),
    ] {
        let b = rng.vec(3 * n + 5 * k + 7);
        // Overlapping rows at arbitrary offsets (the last one at the end).
        let mut offsets: Vec<usize> = (0..k).map(|_| rng.below(b.len() - n + 1)).collect();
        offsets[k - 1] = b.len() - n;
        let rows: Vec<f32> = offsets
            .iter()
            .flat_map(|&o| b[o..o + n].iter().copied())
            .collect();
        let a = rng.vec(m * k);
        let c_rs = n + 3;
        // The columns: all of them in runs of 64, or the first `w` of every
        // `w + 3` ("output rows" of width `w`, 2 pixels of padding dropped)
        // in pieces of up to 16, four to a block.
        let (blocks, kept): (Vec<Block>, Vec<usize>) = if pieces {
            let w = 2 + n / 7;
            let kept: Vec<usize> = (0..n).filter(|j| j % (w + 3) < w).collect();
            let starts: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|&j| j % (w + 3) % 16 == 0)
                .collect();
            let piece = |j: usize| (j, j, (w - j % (w + 3)).min(16).min(n - j));
            let blocks = starts
                .chunks(4)
                .map(|four| {
                    let get = |h: usize| four.get(h).map_or((0, 0, 0), |&j| piece(j));
                    Block {
                        src: core::array::from_fn(|h| get(h).0),
                        dst: core::array::from_fn(|h| get(h).1),
                        len: core::array::from_fn(|h| get(h).2),
                    }
                })
                .collect();
            (blocks, kept)
        } else {
            let blocks = (0..n)
                .step_by(64)
                .map(|j0| Block::contiguous(j0, (n - j0).min(64)))
                .collect();
            (blocks, (0..n).collect())
        };
        for accumulate in [false, true] {
            let c0 = rng.vec(m * c_rs);
            let mut got = c0.clone();
            if !sgemm_row_table(
                m,
                &blocks,
                (&mut got, c_rs, accumulate),
                (&a, k),
                &b,
                &offsets,
            ) {
                assert!(!has_avx512(), "row table refused with AVX-512F");
                assert_eq!(got, c0, "refused product wrote to C");
                continue;
            }
            let mut full = c0.clone();
            sgemm_with(
                Opts {
                    path: Path::Tall,
                    ..Opts::DEFAULT
                },
                GemmArgs {
                    mnk: (m, n, k),
                    dst: &mut full,
                    dst_rs: c_rs,
                    accumulate,
                    lhs: &a,
                    lhs_strides: (k, 1),
                    rhs: &rows,
                    rhs_strides: (n, 1),
                    threaded: false,
                },
            );
            // Kept columns as the full product, the others as they were.
            let mut want = c0.clone();
            for i in 0..m {
                for &j in &kept {
                    want[i * c_rs + j] = full[i * c_rs + j];
                }
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "({m}, {n}, {k}, pieces {pieces}, accumulate {accumulate}) element {i}: {g} vs {w}"
                );
            }
        }
    }
}

/// The column-table product equals the `Dot` product of the same columns
/// copied into B^T, bit for bit (same kernel, same order of sums), over odd
/// sizes, overlapping columns and both `accumulate` settings; C's row
/// padding stays untouched.
#[test]
fn col_table_matches_copied_columns() {
    let mut rng = Rng(77);
    for &(m, n, k, accumulate) in &[
        (1, 1, 1, false),
        (3, 5, 17, true),
        (4, 4, 16, false),
        (6, 9, 33, true),
        (7, 13, 100, false),
        (32, 27, 1088, true),
    ] {
        let b = rng.vec(2 * k + 3 * n + 11);
        // Overlapping columns at arbitrary offsets (the last one at the end).
        let mut offsets: Vec<usize> = (0..n).map(|_| rng.below(b.len() - k + 1)).collect();
        offsets[n - 1] = b.len() - k;
        // B^T [n, k]: column `j` of B as row `j`.
        let b_t: Vec<f32> = offsets
            .iter()
            .flat_map(|&o| b[o..o + k].iter().copied())
            .collect();
        let a_rs = k + 2;
        let a = rng.vec(m * a_rs);
        let c_rs = n + 3;
        let c0 = rng.vec(m * c_rs);
        let mut got = c0.clone();
        if !sgemm_col_table(
            (m, k),
            (&mut got, c_rs, accumulate),
            (&a, a_rs),
            &b,
            &offsets,
        ) {
            assert!(!has_avx512(), "column table refused with AVX-512F");
            assert_eq!(got, c0, "refused product wrote to C");
            continue;
        }
        let mut want = c0.clone();
        sgemm_with(
            Opts {
                path: Path::Dot,
                ..Opts::DEFAULT
            },
            GemmArgs {
                mnk: (m, n, k),
                dst: &mut want,
                dst_rs: c_rs,
                accumulate,
                lhs: &a,
                lhs_strides: (a_rs, 1),
                rhs: &b_t,
                rhs_strides: (1, k),
                threaded: false,
            },
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "({m}, {n}, {k}) element {i}: {g} vs {w}"
            );
        }
        // And the values are the product (within float rounding).
        for i in 0..m {
            for j in 0..n {
                let exact: f64 = (0..k)
                    .map(|p| a[i * a_rs + p] as f64 * b[offsets[j] + p] as f64)
                    .sum();
                let base = if accumulate {
                    c0[i * c_rs + j] as f64
                } else {
                    0.0
                };
                let g = got[i * c_rs + j] as f64;
                assert!(
                    (g - base - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                    "({m}, {n}, {k}) C[{i}, {j}] = {g}, want {}",
                    base + exact
                );
            }
        }
    }
}
