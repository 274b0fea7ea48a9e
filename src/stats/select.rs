//! Exact order statistics of a stream too large to keep, in bounded memory: the k-th smallest
//! values found digit by digit (16 bits of an order-preserving key per pass over the stream),
//! then collected once few enough values share the found prefix.
//!
//! Each value is mapped to a `u64` key that sorts as [`f64::total_cmp`] does. A pass counts, for
//! each wanted rank, how many values fall in each of the 65,536 buckets of the next 16 bits under
//! the prefix found so far; the bucket holding the rank extends the prefix. When the bucket holds
//! at most `cap` values, the next pass keeps exactly those values and sorts them; a key found to
//! all 64 bits is the value itself. So a selection takes 2 to 5 passes and at most
//! `ranks x 512 KiB` of counters (or `ranks x cap` values), whatever the stream's length.

/// The key of `x`: `key(a) < key(b)` exactly when `a.total_cmp(&b)` is `Less`.
pub fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// The value of a key (the inverse of [`key`]).
pub fn from_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

const DIGIT: u32 = 16;
const BUCKETS: usize = 1 << DIGIT;

/// One wanted rank and what is known of it.
#[derive(Debug, Clone)]
struct Target {
    rank: u64,
    /// The high `bits` bits of its key.
    prefix: u64,
    bits: u32,
    /// How many values lie below the prefix's range.
    below: u64,
    /// The bucket under the prefix holds at most `cap` values: collect them.
    collect: bool,
    value: Option<f64>,
    /// The stream changed between passes (counts do not add up): no answer.
    lost: bool,
}

impl Target {
    fn open(&self) -> bool {
        self.value.is_none() && !self.lost
    }

    fn matches(&self, k: u64) -> bool {
        self.bits == 0 || k >> (64 - self.bits) == self.prefix >> (64 - self.bits)
    }
}

/// What one pass accumulates for a group of targets sharing a prefix.
enum Acc {
    Counts(Vec<u64>),
    Values(Vec<f64>),
}

/// The accumulators of one pass over the stream: feed every value with [`Pass::push`], then hand
/// it back to [`Selection::finish_pass`].
pub struct Pass {
    /// (prefix, bits, accumulator) per group; targets point into it.
    groups: Vec<(u64, u32, Acc)>,
    /// Target index -> group index (open targets only).
    of: Vec<Option<usize>>,
}

impl Pass {
    /// Adds one value of the stream (in any order; every value exactly once per pass).
    pub fn push(&mut self, x: f64) {
        let k = key(x);
        for (prefix, bits, acc) in &mut self.groups {
            if *bits != 0 && k >> (64 - *bits) != *prefix >> (64 - *bits) {
                continue;
            }
            match acc {
                Acc::Counts(c) => {
                    c[((k >> (64 - DIGIT - *bits)) & (BUCKETS as u64 - 1)) as usize] += 1
                }
                Acc::Values(v) => v.push(x),
            }
        }
    }
}

/// The search for a set of ranks (0-based, in [`f64::total_cmp`] order) of a stream of `n`
/// values.
pub struct Selection {
    targets: Vec<Target>,
    cap: usize,
}

impl Selection {
    /// Looks for `ranks` among `n` values; a bucket of at most `cap` values is collected.
    pub fn new(n: u64, ranks: &[u64], cap: usize) -> Self {
        let targets = ranks
            .iter()
            .map(|&rank| Target {
                rank,
                prefix: 0,
                bits: 0,
                below: 0,
                collect: n <= cap as u64,
                value: None,
                lost: rank >= n,
            })
            .collect();
        Selection { targets, cap: cap.max(1) }
    }

    /// Whether every rank is found (or cannot be).
    pub fn done(&self) -> bool {
        !self.targets.iter().any(Target::open)
    }

    /// The accumulators of the next pass.
    pub fn pass(&self) -> Pass {
        let mut groups: Vec<(u64, u32, Acc)> = Vec::new();
        let mut of = vec![None; self.targets.len()];
        for (i, t) in self.targets.iter().enumerate().filter(|(_, t)| t.open()) {
            let same = groups.iter().position(|(p, b, acc)| {
                *p == t.prefix && *b == t.bits && matches!(acc, Acc::Values(_)) == t.collect
            });
            of[i] = Some(same.unwrap_or_else(|| {
                let acc =
                    if t.collect { Acc::Values(Vec::new()) } else { Acc::Counts(vec![0; BUCKETS]) };
                groups.push((t.prefix, t.bits, acc));
                groups.len() - 1
            }));
        }
        Pass { groups, of }
    }

    /// Takes what a pass found: each open rank gets 16 more bits of its key, or its value.
    pub fn finish_pass(&mut self, mut pass: Pass) {
        for (_, _, acc) in &mut pass.groups {
            if let Acc::Values(v) = acc {
                v.sort_by(f64::total_cmp);
            }
        }
        for (i, t) in self.targets.iter_mut().enumerate() {
            let Some(g) = pass.of[i] else { continue };
            let within = t.rank - t.below;
            match &mut pass.groups[g].2 {
                Acc::Values(v) => {
                    match v.get(within as usize) {
                        // The collected values all share the prefix (checked by matches()).
                        Some(&x) if t.matches(key(x)) => t.value = Some(x),
                        _ => t.lost = true,
                    }
                }
                Acc::Counts(c) => {
                    let mut before = 0u64;
                    let found = c.iter().enumerate().find_map(|(b, &n)| {
                        if within < before + n {
                            return Some((b as u64, n));
                        }
                        before += n;
                        None
                    });
                    let Some((bucket, n)) = found else {
                        t.lost = true;
                        continue;
                    };
                    t.prefix |= bucket << (64 - DIGIT - t.bits);
                    t.bits += DIGIT;
                    t.below += before;
                    if t.bits == 64 {
                        t.value = Some(from_key(t.prefix));
                    } else if n <= self.cap as u64 {
                        t.collect = true;
                    }
                }
            }
        }
    }

    /// The value at the `i`-th rank given to [`Selection::new`], once found.
    pub fn value(&self, i: usize) -> Option<f64> {
        self.targets.get(i).and_then(|t| t.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::samples::{interpolate, percentile_linear, percentile_ranks};

    /// Runs a selection over `v` as a stream (one pass = one iteration over `v`).
    fn select(v: &[f64], ranks: &[u64], cap: usize) -> (Vec<Option<f64>>, usize) {
        let mut s = Selection::new(v.len() as u64, ranks, cap);
        let mut passes = 0;
        while !s.done() {
            let mut p = s.pass();
            for &x in v {
                p.push(x);
            }
            s.finish_pass(p);
            passes += 1;
            assert!(passes <= 5, "more than 5 passes");
        }
        ((0..ranks.len()).map(|i| s.value(i)).collect(), passes)
    }

    #[test]
    fn keys_sort_as_total_cmp() {
        let xs =
            [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-310, 0.5, 2.5, 1e300, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
    }

    /// Every rank of streams with duplicates, negatives, equal values and wide ranges, with a
    /// cap small enough to force the digit passes, is the sorted stream's element at that rank.
    #[test]
    fn finds_exactly_the_sorted_elements() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let streams: Vec<Vec<f64>> = vec![
            (0..5000).map(|_| (rnd() % 10_000) as f64 / 7.0).collect(),
            (0..5000).map(|_| 42.0).collect(),
            (0..5000).map(|i| if i % 2 == 0 { 1.0 } else { 1.0 + f64::EPSILON }).collect(),
            (0..5000)
                .map(|_| f64::from_bits(rnd() >> 2) * if rnd() % 2 == 0 { -1.0 } else { 1.0 })
                .collect(),
            (0..5000).map(|_| 20.0 + (rnd() % 1000) as f64 * 1e-9).collect(),
            vec![3.0],
        ];
        for v in streams {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let n = v.len() as u64;
            let ranks: Vec<u64> = [0, n / 2, n * 9 / 10, n - 1].into_iter().collect();
            for cap in [1, 16, 1 << 20] {
                let (got, _) = select(&v, &ranks, cap);
                for (r, g) in ranks.iter().zip(got) {
                    assert_eq!(
                        g.map(f64::to_bits),
                        Some(sorted[*r as usize].to_bits()),
                        "rank {r}, cap {cap}"
                    );
                }
            }
        }
    }

    /// The percentiles from selected ranks are numpy's, as from the sorted samples.
    #[test]
    fn percentiles_match_the_sorted_ones() {
        let v: Vec<f64> = (0..10_001).map(|i| ((i * 7919) % 10_007) as f64 * 0.37).collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [50.0, 90.0, 95.0, 99.0] {
            let (lo, hi, frac) = percentile_ranks(v.len() as u64, p).unwrap();
            let (got, passes) = select(&v, &[lo, hi], 64);
            assert!(passes >= 2, "the cap forces digit passes");
            let (a, b) = (got[0].unwrap(), got[1].unwrap());
            assert_eq!(Some(interpolate(a, b, frac)), percentile_linear(&sorted, p));
        }
    }
}
