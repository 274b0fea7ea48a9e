//! Statistics over samples, computed the way aiperf computes them: numpy's default (`linear`)
//! percentile interpolation and the population standard deviation (`ddof=0`).

use serde::Serialize;

/// Running statistics, with the samples themselves when percentiles are wanted (up to a cap:
/// past it they are dropped, and [`Samples::overflowed`] says the percentiles must be selected
/// from the stream again, see [`super::select`]).
#[derive(Debug, Clone)]
pub struct Samples {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    values: Option<Vec<f64>>,
    cap: usize,
    overflowed: bool,
}

impl Samples {
    pub fn new(keep: bool) -> Self {
        Self::with_cap(keep, usize::MAX)
    }

    /// Keeps at most `cap` values for the percentiles.
    pub fn with_cap(keep: bool, cap: usize) -> Self {
        Samples {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            values: keep.then(Vec::new),
            cap,
            overflowed: false,
        }
    }

    /// More values came than the cap keeps: [`Samples::finish`] has no percentiles.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds one value (Welford's update: stable mean and variance in constant memory).
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let d = x - self.mean;
        self.mean += d / self.count as f64;
        self.m2 += d * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if let Some(v) = &mut self.values {
            if v.len() < self.cap {
                v.push(x);
            } else {
                self.values = None;
                self.overflowed = true;
            }
        }
    }

    pub fn finish(self) -> Summary {
        if self.count == 0 {
            return Summary::default();
        }
        let pct = self.values.map(|mut v| {
            v.sort_by(f64::total_cmp);
            PERCENTILES.map(|p| percentile_linear(&v, p))
        });
        Summary {
            count: self.count,
            avg: Some(self.mean),
            std: Some((self.m2 / self.count as f64).sqrt()),
            min: Some(self.min),
            max: Some(self.max),
            p50: pct.and_then(|p| p[0]),
            p90: pct.and_then(|p| p[1]),
            p95: pct.and_then(|p| p[2]),
            p99: pct.and_then(|p| p[3]),
        }
    }
}

/// Summary of one metric; percentiles only when the samples were kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub avg: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// The percentiles a [`Summary`] gives, in the order of its fields.
pub const PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// numpy `percentile(a, p)` with the default `linear` method on sorted data:
/// rank `h = (n - 1) * p / 100`, then interpolate between `a[floor(h)]` and `a[floor(h) + 1]`.
pub fn percentile_linear(sorted: &[f64], p: f64) -> Option<f64> {
    let (lo, hi, frac) = percentile_ranks(sorted.len() as u64, p)?;
    Some(interpolate(sorted[lo as usize], sorted[hi as usize], frac))
}

/// The two ranks numpy's `linear` percentile `p` of `n` sorted values interpolates between,
/// and the weight of the upper one.
pub fn percentile_ranks(n: u64, p: f64) -> Option<(u64, u64, f64)> {
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let h = (n - 1) as f64 * p / 100.0;
    let lo = h.floor() as u64;
    Some((lo, (lo + 1).min(n - 1), h - lo as f64))
}

/// The value between the values at ranks `lo` and `hi` ([`percentile_ranks`]).
pub fn interpolate(lo: f64, hi: f64, frac: f64) -> f64 {
    lo + (hi - lo) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) == [2.5, 3.7, 3.97]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_linear(&v, 50.0), Some(2.5));
        assert!((percentile_linear(&v, 90.0).unwrap() - 3.7).abs() < 1e-12);
        assert!((percentile_linear(&v, 99.0).unwrap() - 3.97).abs() < 1e-12);
        assert_eq!(percentile_linear(&[], 50.0), None);
    }
}
