//! How sweeper writes numbers for people and machines (reports, messages, the terminal): fixed
//! decimals for ordinary magnitudes, exponent notation beyond them, so that a broken or hostile
//! value (1.7e308, 1e-300) prints as `1.70e308` rather than as hundreds of digits.

/// Magnitudes that people read with fixed decimals: `SMALLEST_FIXED <= |x| < LARGEST_FIXED`
/// (and 0). Beyond them [`fixed`] switches to 3 significant digits in exponent notation.
pub const LARGEST_FIXED: f64 = 1e9;
/// See [`LARGEST_FIXED`].
pub const SMALLEST_FIXED: f64 = 1e-6;

/// Whether `x` is printed with fixed decimals by [`fixed`].
pub fn is_ordinary(x: f64) -> bool {
    x == 0.0 || (SMALLEST_FIXED..LARGEST_FIXED).contains(&x.abs())
}

/// For people: `digits` decimals (`21.71`), or 3 significant digits in exponent notation
/// (`1.70e308`, `1.00e-300`) outside the ordinary range. Not-finite values as Rust writes them.
pub fn fixed(x: f64, digits: usize) -> String {
    if is_ordinary(x) { format!("{x:.digits$}") } else { format!("{x:.2e}") }
}

/// [`fixed`] with a sign: `+1.5`, `-0.3`, `+1.70e308`.
pub fn signed(x: f64, digits: usize) -> String {
    if is_ordinary(x) { format!("{x:+.digits$}") } else { format!("{x:+.2e}") }
}

/// A ratio as a percentage: `0.25` -> `25%`, `0.123` -> `12.3%` (at most one decimal), and
/// `1.00e302%` outside the ordinary range (also when `x * 100` itself would overflow).
pub fn percent(x: f64) -> String {
    let p = x * 100.0;
    if is_ordinary(p) {
        format!("{}%", (x * 1000.0).round() / 10.0)
    } else if p.is_finite() || !x.is_finite() {
        format!("{p:.2e}%")
    } else {
        // |x| > 1.8e306: shift the exponent of x's own text by two.
        let text = format!("{x:.2e}");
        match text.split_once('e').and_then(|(m, e)| Some((m, e.parse::<i32>().ok()?))) {
            Some((m, e)) => format!("{m}e{}%", e + 2),
            None => format!("{text}%"),
        }
    }
}

/// For machines (CSV): the shortest text that parses back to exactly `x`, with an exponent when
/// `|x| >= 1e21` or `0 < |x| < 1e-7` (JavaScript's rule), so `1.7e308` is not 309 digits.
pub fn exact(x: f64) -> String {
    let mut s = String::new();
    write_exact(&mut s, x);
    s
}

/// [`exact`], appended to `out` (no allocation of its own: a CSV writes ~100 of them a row).
pub fn write_exact(out: &mut String, x: f64) {
    use std::fmt::Write;
    let _ = if x == 0.0 || !x.is_finite() || (1e-7..1e21).contains(&x.abs()) {
        write!(out, "{x}")
    } else {
        write!(out, "{x:e}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_values_keep_fixed_decimals() {
        assert_eq!(fixed(21.708, 2), "21.71");
        assert_eq!(fixed(0.0, 1), "0.0");
        assert_eq!(fixed(999_999_999.0, 0), "999999999");
        assert_eq!(fixed(0.000_001, 6), "0.000001");
        assert_eq!(signed(1.25, 1), "+1.2");
        assert_eq!(signed(-0.3, 1), "-0.3");
        assert_eq!(percent(0.25), "25%");
        assert_eq!(percent(0.123), "12.3%");
        assert_eq!(exact(21.708520749999998), "21.708520749999998");
        assert_eq!(exact(2e9), "2000000000");
    }

    #[test]
    fn huge_and_tiny_values_use_exponents() {
        assert_eq!(fixed(1.7e308, 2), "1.70e308");
        assert_eq!(fixed(-1.7e308, 0), "-1.70e308");
        assert_eq!(fixed(1e9, 1), "1.00e9");
        assert_eq!(fixed(1e-300, 2), "1.00e-300");
        assert_eq!(signed(1.7e308, 2), "+1.70e308");
        assert_eq!(signed(-1e-300, 2), "-1.00e-300");
        assert_eq!(percent(1e300), "1.00e302%");
        assert_eq!(percent(1.7e308), "1.70e310%");
        assert_eq!(percent(-1.7e308), "-1.70e310%");
        assert_eq!(percent(1e-300), "1.00e-298%");
        assert_eq!(exact(1.7e308), "1.7e308");
        assert_eq!(exact(1e-300), "1e-300");
        assert_eq!(exact(f64::MAX).parse::<f64>(), Ok(f64::MAX));
        for x in [1.7e308, -1e-300, 5e-324, f64::MAX, 123.456e200] {
            for s in [fixed(x, 2), signed(x, 2), percent(x)] {
                assert!(s.len() < 16, "{x}: {s}");
            }
            // At most 17 significant digits and an exponent.
            assert!(exact(x).len() < 25, "{x}: {}", exact(x));
            assert_eq!(exact(x).parse::<f64>(), Ok(x));
        }
    }
}
