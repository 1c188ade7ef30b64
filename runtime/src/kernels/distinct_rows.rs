//! The rows of a matrix that repeat, found once so that a product takes each
//! distinct row once.
//!
//! A recurrent layer over token ids reads an embedding's output: one row
//! per token, the same row wherever a token comes back. The bench's
//! character LSTM multiplies 1120 rows (32 sequences of 35 tokens) by
//! `W_ih^T` at every step, and at most 100 of them differ. Rows are compared
//! bit for bit, so a product over the distinct rows, copied back to every
//! repeat, is the product over all rows (each element of a product is
//! summed in an order that does not depend on the other rows).

use crate::elem::Elem;

/// The distinct rows of a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DistinctRows {
    /// The first row of each distinct row, in order of appearance.
    pub firsts: Vec<usize>,
    /// For each row, the index in `firsts` of its distinct row.
    pub of_row: Vec<u32>,
}

/// Values at the start of a row that [`distinct_rows`] hashes.
const HASHED_VALUES: usize = 16;

/// Rows seen before [`distinct_rows`] gives up when nearly all differ.
const PROBE_ROWS: usize = 256;

/// The distinct rows of `x` (rows of `width` values, compared bit for bit;
/// a row with a NaN is never equal to another),
/// or `None` where a product would not gain by them: fewer than 8 rows, or
/// more than three quarters of the rows distinct (among the first
/// [`PROBE_ROWS`], or among all).
pub(crate) fn distinct_rows<E: Elem>(x: &[E], width: usize) -> Option<DistinctRows> {
    let rows = x.len().checked_div(width)?;
    if rows < 8 || rows > u32::MAX as usize {
        return None;
    }
    let bits = |v: &E| v.to_f64().map_or(u64::MAX, f64::to_bits);
    let row = |r: usize| &x[r * width..(r + 1) * width];
    // The first values of a row hash it (rows that share them are told
    // apart by the full comparison).
    let hash = |r: usize| {
        row(r)
            .iter()
            .take(HASHED_VALUES)
            .fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                (h.rotate_left(5) ^ bits(v)).wrapping_mul(0x5851_f42d_4c95_7f2d)
            })
    };
    // Equal values with equal signs: equal bits, but for NaNs, which are
    // never equal (a row with a NaN is its own).
    let same = |a: usize, b: usize| {
        let (ra, rb) = (row(a), row(b));
        ra == rb
            && ra
                .iter()
                .zip(rb)
                .all(|(p, q)| p.is_sign_negative() == q.is_sign_negative())
    };
    // Open addressing: (hash, index in `firsts`), `u32::MAX` for empty.
    let slots = (2 * rows).next_power_of_two();
    let mut table = vec![(0u64, u32::MAX); slots];
    let mut firsts: Vec<usize> = Vec::new();
    let mut of_row = Vec::with_capacity(rows);
    for r in 0..rows {
        let h = hash(r);
        let mut s = h as usize & (slots - 1);
        let index = loop {
            match table[s] {
                (_, u32::MAX) => {
                    let new = firsts.len() as u32;
                    table[s] = (h, new);
                    firsts.push(r);
                    break new;
                }
                (hs, d) if hs == h && same(firsts[d as usize], r) => break d,
                _ => s = (s + 1) & (slots - 1),
            }
        };
        of_row.push(index);
        let seen = r + 1;
        if (seen == PROBE_ROWS.min(rows) || seen == rows) && 4 * firsts.len() > 3 * seen {
            return None;
        }
    }
    Some(DistinctRows { firsts, of_row })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeats_bit_for_bit_and_gives_up_when_rows_differ() {
        // 40 rows of width 3 from 5 patterns, -0.0 and 0.0 told apart.
        let pats: [[f32; 3]; 5] = [
            [1.0, 2.0, 3.0],
            [0.0, 0.0, 0.0],
            [-0.0, 0.0, 0.0],
            [1.0, 2.0, 3.5],
            [f32::INFINITY, 1.0, -1.0],
        ];
        let pick: Vec<usize> = (0..40).map(|r| (r * 7 + r / 3) % 5).collect();
        let x: Vec<f32> = pick.iter().flat_map(|&p| pats[p]).collect();
        let d = distinct_rows(&x, 3).expect("5 distinct rows of 40");
        assert_eq!(d.firsts.len(), 5);
        assert_eq!(d.of_row.len(), 40);
        for (r, &u) in d.of_row.iter().enumerate() {
            let first = d.firsts[u as usize];
            assert_eq!(pick[first], pick[r], "row {r}");
            assert!(first <= r);
        }
        // Firsts in order of appearance, each the first row of its pattern.
        for (u, &f) in d.firsts.iter().enumerate() {
            assert!(pick[..f].iter().all(|&p| p != pick[f]));
            assert!(u == 0 || d.firsts[u - 1] < f);
        }
        // Rows with a NaN are each their own.
        let mut nan = x.clone();
        nan[3 * 10] = f32::NAN;
        nan[3 * 20] = f32::NAN;
        let dn = distinct_rows(&nan, 3).expect("7 distinct rows of 40");
        assert_eq!(dn.firsts.len(), 7);
        assert!(dn.firsts.contains(&10) && dn.firsts.contains(&20));
        // Rows that share their hashed start but differ later stay apart.
        let mut long: Vec<f32> = Vec::new();
        for r in 0..12 {
            let mut row = vec![1.0f32; 20];
            row[19] = (r % 3) as f32;
            long.extend(row);
        }
        let d = distinct_rows(&long, 20).expect("3 distinct rows of 12");
        assert_eq!(d.firsts, vec![0, 1, 2]);
        assert_eq!(d.of_row, (0..12).map(|r| r % 3).collect::<Vec<u32>>());
        // All rows distinct, too few rows, zero width: not worth it.
        let all: Vec<f64> = (0..300).map(|v| v as f64).collect();
        assert_eq!(distinct_rows(&all, 1), None);
        assert_eq!(distinct_rows(&x[..7 * 3], 3), None);
        assert_eq!(distinct_rows::<f32>(&[], 0), None);
        // Three quarters distinct is still taken; more is not.
        let mut v: Vec<f32> = (0..12).map(|r| r as f32).collect();
        v.extend([0.0, 1.0, 2.0, 3.0]);
        assert_eq!(distinct_rows(&v, 1).map(|d| d.firsts.len()), Some(12));
        v[15] = 99.0;
        assert_eq!(distinct_rows(&v, 1), None);
    }
}
