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

/// Re-runs a search or a ladder may add to confirm its boundary (the last pass and the first
/// failure, each run again, and a third time when the two runs disagree).
pub const CONFIRM_RUNS: usize = 4;

/// The verdict of a value from its runs (`true`: passed), or `None` while it needs another
/// run: a boundary value is confirmed by a second run, and a third decides when they disagree.
pub fn settled(runs: &[bool]) -> Option<bool> {
    match runs.len() {
        2 if runs[0] == runs[1] => Some(runs[0]),
        n if n >= 3 => Some(majority(runs)),
        _ => None,
    }
}

/// The majority verdict of a value's runs (a tie, left by an interruption, is a failure).
pub fn majority(runs: &[bool]) -> bool {
    runs.iter().filter(|p| **p).count() * 2 > runs.len()
}

/// The values a search (or a ladder) tried, with the verdict of each of their runs, and why
/// the last failing run failed.
#[derive(Debug, Clone, Default)]
pub struct Tried(Vec<(f64, Vec<bool>, Option<String>)>);

impl Tried {
    /// A run at `value` passed (`why` is `None`) or failed (why).
    pub fn add(&mut self, value: f64, why: Option<String>) {
        let passed = why.is_none();
        match self.0.iter_mut().find(|(v, _, _)| *v == value) {
            Some((_, runs, w)) => {
                runs.push(passed);
                if why.is_some() {
                    *w = why;
                }
            }
            None => self.0.push((value, vec![passed], why)),
        }
    }

    /// Whether `value` was tried.
    pub fn has(&self, value: f64) -> bool {
        self.0.iter().any(|(v, _, _)| *v == value)
    }

    /// The verdict of `value` by its runs so far (`None`: not tried).
    pub fn passed(&self, value: f64) -> Option<bool> {
        self.0.iter().find(|(v, _, _)| *v == value).map(|(_, r, _)| Self::verdict(r))
    }

    /// A value's verdict so far: its settled one, else its only run's (a tie fails).
    fn verdict(runs: &[bool]) -> bool {
        match (settled(runs), runs) {
            (Some(v), _) => v,
            (None, [only]) => *only,
            (None, _) => majority(runs),
        }
    }

    /// The smallest failing value and why it failed.
    pub fn fail(&self) -> Option<(f64, &str)> {
        self.0
            .iter()
            .filter(|(_, runs, _)| !Self::verdict(runs))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(v, _, w)| (*v, w.as_deref().unwrap_or("it failed")))
    }

    /// The largest passing value below the smallest failing one.
    pub fn pass(&self) -> Option<f64> {
        let fail = self.fail().map(|(f, _)| f);
        self.0
            .iter()
            .filter(|(v, runs, _)| Self::verdict(runs) && fail.is_none_or(|f| *v < f))
            .map(|(v, _, _)| *v)
            .max_by(f64::total_cmp)
    }

    /// The boundary value that needs another run (the first failure, then the last pass), and
    /// which run of it that is (1: the second, 2: the third).
    pub fn to_confirm(&self) -> Option<(f64, u32)> {
        let runs_of = |x: f64| self.0.iter().find(|(v, _, _)| *v == x).map(|(_, r, _)| r);
        [self.fail().map(|(f, _)| f), self.pass()].into_iter().flatten().find_map(|x| {
            let r = runs_of(x)?;
            settled(r).is_none().then_some((x, r.len() as u32))
        })
    }

    /// Runs beyond the first at a value, and values whose settled verdict is not their first
    /// run's.
    pub fn confirmations(&self) -> (usize, usize) {
        let extra = self.0.iter().map(|(_, r, _)| r.len() - 1).sum();
        let flips =
            self.0.iter().filter(|(_, r, _)| r.len() > 1 && Self::verdict(r) != r[0]).count();
        (extra, flips)
    }
}

/// The most probes a search can take: `ceil(log2(max/min)) + 1` while growing, then
/// `ceil(log2(1/resolution))` while bisecting, plus [`CONFIRM_RUNS`].
pub fn max_probes(mode: SearchMode) -> usize {
    let SearchMode::Search { min, max, resolution, .. } = mode else { return 0 };
    ((max / min).log2().ceil().max(0.0) as usize)
        + 1
        + ((1.0 / resolution).log2().ceil().max(0.0) as usize)
        + CONFIRM_RUNS
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
        // The bound: ceil(log2(max/min)) + ceil(log2(1/resolution)) + 2, and the confirmations.
        assert!(max_probes(int) <= 10 + 4 + 2 + CONFIRM_RUNS);
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

    #[test]
    fn a_boundary_is_settled_by_two_agreeing_runs_or_a_majority_of_three() {
        assert_eq!(settled(&[true]), None);
        assert_eq!(settled(&[false, false]), Some(false));
        assert_eq!(settled(&[false, true]), None);
        assert_eq!(settled(&[false, true, true]), Some(true));
        assert_eq!(settled(&[true, false, false]), Some(false));
        assert!(majority(&[true]) && !majority(&[true, false]) && majority(&[false, true, true]));
    }

    #[test]
    fn a_flipped_boundary_moves_the_answer() {
        let mut t = Tried::default();
        for (v, ok) in [(1.0, true), (2.0, true), (4.0, false)] {
            t.add(v, (!ok).then(|| "slow".to_owned()));
        }
        assert_eq!((t.pass(), t.fail().map(|f| f.0)), (Some(2.0), Some(4.0)));
        assert_eq!(t.to_confirm(), Some((4.0, 1)));
        // 4 passes on its re-run: a third run decides; it passes: 4 was noise.
        t.add(4.0, None);
        assert_eq!(t.to_confirm(), Some((4.0, 2)));
        t.add(4.0, None);
        assert_eq!((t.pass(), t.fail()), (Some(4.0), None));
        assert_eq!(t.to_confirm(), None, "4 is settled; nothing else is a boundary");
        assert_eq!(t.confirmations(), (2, 1));
    }
}
