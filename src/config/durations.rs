//! Every duration-like value a config can hold: aiperf's seconds and milliseconds options and
//! sweeper's own `*_s` settings. Each is checked when the config is validated (a number, not
//! negative, at most [`MAX_SECONDS`]; aiperf's `inf` only where it means "wait for everything"),
//! so no conversion to a `Duration` that could panic is reachable from input.

use serde_json::Value;

/// The longest duration sweeper accepts anywhere: one year, in seconds.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Unit of a duration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Millis,
}

/// One duration-like option.
#[derive(Debug, Clone, Copy)]
pub struct DurationOption {
    /// Canonical config key (aiperf's first long flag, snake_case) or sweeper's field name.
    pub key: &'static str,
    pub unit: Unit,
    /// Must be greater than 0 (aiperf rejects 0).
    pub positive: bool,
    /// The string `inf` is accepted (aiperf: wait for every response).
    pub inf: bool,
}

const fn s(key: &'static str, positive: bool) -> DurationOption {
    DurationOption { key, unit: Unit::Seconds, positive, inf: false }
}

const fn ms(key: &'static str) -> DurationOption {
    DurationOption { key, unit: Unit::Millis, positive: false, inf: false }
}

/// Every `aiperf profile` 0.13 option whose value is a duration (from its help).
pub static AIPERF_DURATIONS: &[DurationOption] = &[
    s("request_timeout_seconds", true),
    s("wait_for_model_timeout", false),
    s("wait_for_model_interval", false),
    s("reset_kv_cache_timeout_seconds", true),
    s("server_profiler_timeout_seconds", true),
    ms("fixed_schedule_start_offset"),
    ms("fixed_schedule_end_offset"),
    s("slice_duration", true),
    s("benchmark_duration", true),
    DurationOption {
        key: "benchmark_grace_period",
        unit: Unit::Seconds,
        positive: false,
        inf: true,
    },
    s("concurrency_ramp_duration", false),
    s("prefill_concurrency_ramp_duration", false),
    s("request_rate_ramp_duration", false),
    s("trace_idle_gap_cap_seconds", false),
    s("system_idle_gap_cap_seconds", false),
    s("warmup_duration", true),
    s("agentic_cache_warmup_duration", false),
    s("agentic_warmup_grace_period", false),
    DurationOption { key: "warmup_grace_period", unit: Unit::Seconds, positive: false, inf: true },
    s("warmup_concurrency_ramp_duration", false),
    s("warmup_prefill_concurrency_ramp_duration", false),
    s("warmup_request_rate_ramp_duration", false),
    s("request_cancellation_delay", false),
    ms("conversation_turn_delay_mean"),
    ms("conversation_turn_delay_stddev"),
    s("inter_turn_delay_cap_seconds", false),
    s("max_idle_gap_cap_seconds", false),
    s("stats_interval", false),
    ms("network_latency_mean"),
    s("network_latency_ping_interval", true),
    s("profile_run_cooldown_seconds", false),
    s("parameter_sweep_cooldown_seconds", false),
];

/// The duration option of a canonical aiperf key, if it is one.
pub fn aiperf_duration(canonical_key: &str) -> Option<&'static DurationOption> {
    AIPERF_DURATIONS.iter().find(|d| d.key == canonical_key)
}

/// A number for a message: as written for ordinary magnitudes, `1e30` for huge or tiny ones.
pub fn show(x: f64) -> String {
    if x == 0.0 || (1e-4..1e9).contains(&x.abs()) { format!("{x}") } else { format!("{x:e}") }
}

/// Why a value is not an acceptable duration. The text names no key: the caller's diagnostic
/// does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    /// Not a finite number (nor `inf` where that is accepted).
    #[error("`{value}` is not a duration: give a number of {unit}{inf_note}")]
    NotANumber { value: String, unit: &'static str, inf_note: &'static str },
    /// Negative, or 0 where it must be greater than 0.
    #[error("{shown} {unit} is not a duration: it must be {bound}{inf_note}")]
    TooSmall { shown: String, unit: &'static str, bound: &'static str, inf_note: &'static str },
    /// Longer than [`MAX_SECONDS`] (in the option's unit: `max`).
    #[error("{shown} {unit} is longer than sweeper accepts ({max} {unit}, one year){inf_note}")]
    TooLong { shown: String, unit: &'static str, max: f64, inf_note: &'static str },
}

/// Checks one value of the duration option `d`.
pub fn check(d: &DurationOption, value: &Value) -> Result<(), DurationError> {
    let (unit, max) = match d.unit {
        Unit::Seconds => ("seconds", MAX_SECONDS),
        Unit::Millis => ("milliseconds", MAX_SECONDS * 1000.0),
    };
    let x = match value {
        Value::Null => return Ok(()),
        Value::Number(n) => n.as_f64(),
        Value::String(t) if d.inf && t.trim() == "inf" => return Ok(()),
        Value::String(t) => t.trim().parse::<f64>().ok(),
        _ => None,
    };
    let inf_note = if d.inf { " (or `inf`: wait for every response)" } else { "" };
    let Some(x) = x.filter(|x| x.is_finite()) else {
        return Err(DurationError::NotANumber { value: value.to_string(), unit, inf_note });
    };
    if x < 0.0 || (d.positive && x == 0.0) {
        let bound = if d.positive { "greater than 0" } else { "0 or more" };
        return Err(DurationError::TooSmall { shown: show(x), unit, bound, inf_note });
    }
    if x > max {
        return Err(DurationError::TooLong { shown: show(x), unit, max, inf_note });
    }
    Ok(())
}

/// Checks a seconds value of sweeper's own settings (`startup_timeout_s`, `stop_grace_s`,
/// `run_timeout_s`...).
pub fn check_seconds(value: f64) -> Result<(), DurationError> {
    match serde_json::Number::from_f64(value) {
        Some(n) => check(&s("", false), &Value::Number(n)),
        None => Err(DurationError::NotANumber {
            value: value.to_string(),
            unit: "seconds",
            inf_note: "",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules() {
        let dur = aiperf_duration("benchmark_duration").unwrap();
        let grace = aiperf_duration("benchmark_grace_period").unwrap();
        assert!(check(dur, &json!(5)).is_ok());
        assert!(check(dur, &json!(0)).unwrap_err().to_string().contains("greater than 0"));
        assert!(check(dur, &json!(1e30)).unwrap_err().to_string().contains("longer than"));
        assert!(check(dur, &json!("inf")).is_err());
        assert!(check(grace, &json!("inf")).is_ok());
        assert!(check(grace, &json!(-1000)).unwrap_err().to_string().contains("0 or more"));
        assert!(check(grace, &json!("soon")).unwrap_err().to_string().contains("not a duration"));
        assert!(check(grace, &json!(0)).is_ok());
        assert!(check_seconds(1e20).is_err());
        assert!(check_seconds(f64::NAN).is_err());
        assert!(check_seconds(600.0).is_ok());
    }
}
