//! Statistics across repeats of a point: mean, sample standard deviation, coefficient of
//! variation, standard error and the Student-t confidence interval of the mean (as aiperf's
//! `--num-profile-runs` aggregate computes them), and Welch's t-test for two sets of repeats.
//!
//! The t distribution comes from `statrs`.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The default confidence level of intervals and tests.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// The two-sided critical value of Student's t with `df` degrees of freedom at `confidence`
/// (`t.ppf((1 + confidence) / 2, df)`), `None` when it does not exist (df <= 0).
pub fn t_critical(confidence: f64, df: f64) -> Option<f64> {
    if !(df > 0.0 && df.is_finite() && confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf((1.0 + confidence) / 2.0))
}

/// A value measured in several repeats: how it spreads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Repeats with a value.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1).
    pub std: f64,
    /// std / mean; `None` when the mean is 0.
    pub cv: Option<f64>,
    /// Standard error of the mean: std / sqrt(n).
    pub se: f64,
    pub t_critical: f64,
    /// mean -+ t_critical x se.
    pub ci_low: f64,
    pub ci_high: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (at least 2, all finite) at `confidence`.
    pub fn of(values: &[f64], confidence: f64) -> Option<Spread> {
        let n = values.len();
        if n < 2 || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let nf = n as f64;
        // Shifted by the first value: equal values give exactly that value and a spread of 0.
        let mean = values[0] + values.iter().map(|v| v - values[0]).sum::<f64>() / nf;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
        let std = var.sqrt();
        let se = std / nf.sqrt();
        let t = t_critical(confidence, nf - 1.0)?;
        Some(Spread {
            n,
            mean,
            std,
            cv: (mean != 0.0).then(|| std / mean),
            se,
            t_critical: t,
            ci_low: mean - t * se,
            ci_high: mean + t * se,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// Welch's t-test of `b` against `a` (two-sided, unequal variances).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    /// mean(b) - mean(a).
    pub diff: f64,
    /// Confidence interval of `diff` at the test's confidence.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// p < 1 - confidence.
    pub significant: bool,
}

/// Welch's test on the per-repeat values of two samples (each at least 2 finite values).
pub fn welch(a: &[f64], b: &[f64], confidence: f64) -> Option<Welch> {
    let sa = Spread::of(a, confidence)?;
    let sb = Spread::of(b, confidence)?;
    let (va, vb) = (sa.se.powi(2), sb.se.powi(2));
    let diff = sb.mean - sa.mean;
    let se = (va + vb).sqrt();
    if se == 0.0 {
        // No spread on either side: any difference is certain, none is none.
        let significant = diff != 0.0;
        return Some(Welch {
            diff,
            ci_low: diff,
            ci_high: diff,
            df: f64::INFINITY,
            p: if significant { 0.0 } else { 1.0 },
            significant,
        });
    }
    let df =
        (va + vb).powi(2) / (va.powi(2) / (sa.n as f64 - 1.0) + vb.powi(2) / (sb.n as f64 - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let t = diff / se;
    let p = (2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0);
    let tc = t_critical(confidence, df)?;
    Some(Welch {
        diff,
        ci_low: diff - tc * se,
        ci_high: diff + tc * se,
        df,
        p,
        significant: p < 1.0 - confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_critical_matches_scipy() {
        // scipy.stats.t.ppf(0.975, df), from the managed venv's scipy
        for (df, want) in [
            (1.0, 12.706204736174694),
            (2.0, 4.302652729749464),
            (4.0, 2.7764451051977934),
            (30.0, 2.0422724563012378),
        ] {
            let t = t_critical(0.95, df).unwrap();
            assert!((t - want).abs() / want < 1e-9, "df {df}: {t} vs {want}");
        }
        assert_eq!(t_critical(0.95, 0.0), None);
    }

    #[test]
    fn spread_of_three_values() {
        let s = Spread::of(&[10.0, 12.0, 14.0], 0.95).unwrap();
        assert_eq!((s.n, s.mean, s.std), (3, 12.0, 2.0));
        assert!((s.se - 2.0 / 3f64.sqrt()).abs() < 1e-12);
        assert!((s.ci_high - (12.0 + 4.302652729749464 * s.se)).abs() < 1e-9);
        assert_eq!(s.cv, Some(2.0 / 12.0));
        assert_eq!(Spread::of(&[1.0], 0.95), None);
        assert_eq!(Spread::of(&[0.0, 0.0], 0.95).unwrap().cv, None);
    }

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind([10, 11, 12], [12, 13, 15], equal_var=False)
        let w = welch(&[10.0, 11.0, 12.0], &[12.0, 13.0, 15.0], 0.95).unwrap();
        assert!((w.diff - 2.3333333333333333).abs() < 1e-12);
        assert!((w.df - 3.4482758620689657).abs() < 1e-9, "{}", w.df);
        assert!((w.p - 0.10206829667318316).abs() < 1e-9, "{}", w.p);
        assert!(!w.significant);
        let same = welch(&[5.0, 5.0], &[5.0, 5.0], 0.95).unwrap();
        assert!(!same.significant && same.p == 1.0);
    }
}
