//! The next probe of a `search`: `min` first, doubling until a breach or `max`, then bisection
//! until the bracket is within the resolution; and the most probes that can take.

use crate::records::SearchMode;

/// The next value a search tries, given its last pass and first failure so far: `min` first,
/// then doubling until a breach or `max`, then bisection until the bracket is within
/// `resolution` (integers: 1 apart). `None`: the search is done.
pub fn next_probe(mode: SearchMode, pass: Option<f64>, fail: Option<f64>) -> Option<f64> {
    let SearchMode::Search { min, max, resolution, integer } = mode else { return None };
    match (pass, fail) {
        (None, None) => Some(min),
        (None, Some(_)) => None,
        (Some(p), None) => {
            if p >= max {
                None
            } else {
                let next = (p * 2.0).min(max);
                Some(if integer { next.floor().max(p + 1.0) } else { next })
            }
        }
        (Some(p), Some(f)) => {
            if (f - p) / p <= resolution || (integer && f - p <= 1.0) {
                return None;
            }
            let mid = if integer {
                ((p + f) / 2.0).floor()
            } else {
                short((p + f) / 2.0, p * resolution)
            };
            (mid > p && mid < f).then_some(mid)
        }
    }
}

/// `x` rounded to a power of ten a tenth of `precision` (or finer), so that a probe's value
/// and its directory name stay short: 28.8, not 28.799999999999997.
fn short(x: f64, precision: f64) -> f64 {
    if !(precision.is_finite() && precision > 0.0) {
        return x;
    }
    let k = precision.log10().floor() as i32 - 1;
    let rounded = if k < 0 {
        let inv = 10f64.powi(-k);
        (x * inv).round() / inv
    } else {
        let step = 10f64.powi(k);
        (x / step).round() * step
    };
    if rounded.is_finite() { rounded } else { x }
}

/// The most probes a search can take: `ceil(log2(max/min)) + 1` while growing, then
/// `ceil(log2(1/resolution))` while bisecting.
pub fn max_probes(mode: SearchMode) -> usize {
    let SearchMode::Search { min, max, resolution, .. } = mode else { return 0 };
    ((max / min).log2().ceil().max(0.0) as usize)
        + 1
        + ((1.0 / resolution).log2().ceil().max(0.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(mode: SearchMode, limit: f64) -> (Option<f64>, Vec<f64>) {
        let (mut pass, mut fail, mut probes) = (None, None, Vec::new());
        while let Some(v) = next_probe(mode, pass, fail) {
            probes.push(v);
            if v <= limit {
                pass = Some(v)
            } else {
                fail = Some(v)
            }
            assert!(probes.len() <= max_probes(mode), "{probes:?}");
        }
        (pass, probes)
    }

    #[test]
    fn search_doubles_then_bisects_within_the_bound() {
        let int = SearchMode::Search { min: 1.0, max: 1024.0, resolution: 0.1, integer: true };
        let (best, probes) = walk(int, 37.0);
        // 36 passes, 38 fails: (38 - 36) / 36 <= 10%, done.
        assert_eq!(best, Some(36.0));
        assert_eq!(probes, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 48.0, 40.0, 36.0, 38.0]);
        // The bound: ceil(log2(max/min)) + ceil(log2(1/resolution)) + 2.
        assert!(max_probes(int) <= 10 + 4 + 2);
        // Every limit in range is found within the resolution (exactly, below 10, where 1
        // apart is finer), in at most max_probes runs.
        for limit in 1..=1024 {
            let l = f64::from(limit);
            let (best, _) = walk(int, l);
            let b = best.unwrap();
            assert!(b <= l && (l - b) / b < 0.1 + 1e-12, "{limit}: {b}");
            if limit <= 10 {
                assert_eq!(b, l);
            }
        }
        let real = SearchMode::Search { min: 0.5, max: 100.0, resolution: 0.1, integer: false };
        for limit in [0.7, 3.3, 42.0, 99.9, 100.0] {
            let (best, _) = walk(real, limit);
            let b = best.unwrap();
            assert!(b <= limit && (limit - b) / b <= 0.1 + 1e-12, "{limit}: {b}");
        }
        // Bisected values are written short (they name run folders).
        let rate = SearchMode::Search { min: 0.1, max: 100.0, resolution: 0.1, integer: false };
        assert_eq!(next_probe(rate, Some(25.6), Some(32.0)), Some(28.8));
        for limit in [0.37, 3.3, 28.9, 42.0, 77.7] {
            for v in walk(rate, limit).1 {
                let shown = v.to_string();
                assert!(shown.len() <= 8 && !shown.contains("9999"), "{limit}: {shown}");
            }
        }
        // Everything passes: max is the answer; nothing does: none.
        assert_eq!(walk(int, 5000.0).0, Some(1024.0));
        assert_eq!(walk(int, 0.0).0, None);
        assert_eq!(walk(int, 0.0).1, [1.0]);
    }
}
