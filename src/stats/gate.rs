//! The regression gate's decision on one figure: Welch's test on the repeats of both sides, the
//! threshold, the metric's direction; and the values no measurement gives, which it refuses.

use serde::Serialize;

use crate::model::metrics::{Direction, Metric};
use crate::stats::confidence::welch;

/// The default `--threshold`: a change smaller than this (in %) is never a regression.
pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;

/// A verdict on one figure of one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse beyond the threshold, and significant.
    Regression,
    /// Better beyond the threshold, and significant.
    Improvement,
    /// Not significant, or within the threshold.
    WithinNoise,
    /// One run on either side: the change is shown, no claim of significance is made.
    NoRepeats,
    /// A value is missing on one side.
    Missing,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::WithinNoise => "within noise",
            Verdict::NoRepeats => "no repeats",
            Verdict::Missing => "-",
        }
    }
}

/// Judges one figure of one point: `a`, `b` its per-repeat values on each side, `va`, `vb`
/// their means; `opts` (threshold in %, confidence level). A regression is worse beyond the
/// threshold and significant by Welch's test; one run on a side makes no claim.
pub fn judge(
    metric: Metric,
    a: &[f64],
    b: &[f64],
    va: Option<f64>,
    vb: Option<f64>,
    opts: (f64, f64),
) -> (Verdict, Option<crate::stats::confidence::Welch>) {
    let (threshold_pct, confidence) = opts;
    let (Some(x), Some(y)) = (va, vb) else { return (Verdict::Missing, None) };
    if a.len() < 2 || b.len() < 2 {
        return (Verdict::NoRepeats, None);
    }
    let Some(w) = welch(a, b, confidence) else { return (Verdict::NoRepeats, None) };
    let pct = if x != 0.0 { (y - x) / x.abs() * 100.0 } else { f64::INFINITY * (y - x).signum() };
    let lower = metric.def().direction == Direction::LowerIsBetter;
    let worse = if lower { y > x } else { y < x };
    let verdict = if !w.significant || pct.abs() <= threshold_pct || pct.is_nan() {
        Verdict::WithinNoise
    } else if worse {
        Verdict::Regression
    } else {
        Verdict::Improvement
    };
    (verdict, Some(w))
}

/// A value no measurement of a compared figure gives: not finite, beyond 1e100, or negative
/// (latencies and throughputs are not).
pub fn unusable(x: f64) -> bool {
    !x.is_finite() || x.abs() > 1e100 || x < 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed-seed normal sampler (xorshift64* and Box-Muller): no dependency, same numbers on
    /// every machine.
    struct Normal(u64);

    impl Normal {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn sample(&mut self, mean: f64, sd: f64) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
        fn samples(&mut self, n: usize, mean: f64, cv: f64) -> Vec<f64> {
            (0..n).map(|_| self.sample(mean, mean * cv)).collect()
        }
    }

    fn verdict(a: &[f64], b: &[f64]) -> Verdict {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        judge(Metric::Tpot, a, b, Some(mean(a)), Some(mean(b)), (DEFAULT_THRESHOLD_PCT, 0.95)).0
    }

    #[test]
    fn verdicts() {
        // Clearly slower TPOT, tight repeats: a regression; the other way, an improvement.
        assert_eq!(verdict(&[10.0, 10.1, 9.9], &[12.0, 12.1, 11.9]), Verdict::Regression);
        assert_eq!(verdict(&[12.0, 12.1, 11.9], &[10.0, 10.1, 9.9]), Verdict::Improvement);
        // Significant but within the 5% threshold.
        assert_eq!(verdict(&[10.0, 10.01, 9.99], &[10.3, 10.31, 10.29]), Verdict::WithinNoise);
        // Beyond the threshold but not significant (wild repeats).
        assert_eq!(verdict(&[10.0, 14.0, 6.0], &[11.0, 16.0, 7.0]), Verdict::WithinNoise);
        // One run on a side: no claim.
        assert_eq!(verdict(&[10.0], &[20.0, 20.0]), Verdict::NoRepeats);
        // Throughput down is the bad direction.
        let (v, _) = judge(
            Metric::OutputTokS,
            &[100.0, 101.0, 99.0],
            &[80.0, 81.0, 79.0],
            Some(100.0),
            Some(80.0),
            (5.0, 0.95),
        );
        assert_eq!(v, Verdict::Regression);
    }

    /// The gate is honest: on two samples of the same distribution (CV 3%, 3 repeats each) it
    /// fires at most 6% of the time over 1,000 comparisons (alpha 5% plus sampling slack), and
    /// it catches a true 10% slowdown (CV 2%, 5 repeats each) at least 90% of the time. The
    /// figures are printed (`cargo test -- --nocapture gate`) and stated in the README.
    #[test]
    fn gate_false_positives_and_power() {
        let mut rng = Normal(0x5eed_cafe_f00d_d00d);
        let trials = 1000;
        let fired = (0..trials)
            .filter(|_| {
                let a = rng.samples(3, 100.0, 0.03);
                let b = rng.samples(3, 100.0, 0.03);
                verdict(&a, &b) == Verdict::Regression
            })
            .count();
        let caught = (0..trials)
            .filter(|_| {
                let a = rng.samples(5, 100.0, 0.02);
                let b = rng.samples(5, 110.0, 0.02);
                verdict(&a, &b) == Verdict::Regression
            })
            .count();
        // Without the threshold (significance alone), for reference.
        let significant = (0..trials)
            .filter(|_| {
                let a = rng.samples(3, 100.0, 0.03);
                let b = rng.samples(3, 100.0, 0.03);
                welch(&a, &b, 0.95).is_some_and(|w| w.significant)
            })
            .count();
        println!(
            "same distribution (CV 3%, n=3): gate fired {fired}/{trials}; significant alone {significant}/{trials}; 10% slowdown (CV 2%, n=5): caught {caught}/{trials}"
        );
        assert!(fired as f64 <= 0.06 * trials as f64, "false positives {fired}/{trials}");
        assert!(caught as f64 >= 0.90 * trials as f64, "detected {caught}/{trials}");
        // Welch's test itself holds its level: about 5% two-sided.
        assert!((20..=80).contains(&significant), "Welch's level {significant}/{trials}");
    }
}
