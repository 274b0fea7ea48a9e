//! Stable directory names for combinations, compatible with the NeMo runner's layout:
//! `"_".join(f"{key}{value}" for key, value in sorted(params.items()))`.

use serde_json::Value;

use super::Combination;

/// Longest directory name before it is shortened with a hash suffix.
const MAX_DIR_LEN: usize = 150;

/// A value as Python's `str()` prints it (the NeMo runner's names use it).
fn python_str(v: &Value) -> String {
    match v {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Keeps names portable: letters, digits, `.`, `_`, `-`; anything else (a `/` in a model name)
/// becomes `-`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect()
}

/// FNV-1a, for short stable suffixes (not security).
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The directory name of one combination's params (sorted by key).
pub fn dir_name(params: &crate::records::Params) -> String {
    let raw: Vec<String> = params.iter().map(|(k, v)| format!("{k}{}", python_str(v))).collect();
    let joined = sanitize(&raw.join("_"));
    if joined.len() <= MAX_DIR_LEN {
        return joined;
    }
    let mut cut = joined[..MAX_DIR_LEN - 17].to_owned();
    cut.push_str(&format!("-{:016x}", fnv1a(&joined)));
    cut
}

/// Assigns every combination its directory; a name that two combinations would share (after
/// sanitizing) gets the combination index appended, so no run overwrites another.
pub fn assign_dirs(combinations: &mut [Combination]) {
    let names: Vec<String> = combinations.iter().map(|c| dir_name(&c.params)).collect();
    let mut counts = std::collections::HashMap::new();
    for n in &names {
        *counts.entry(n.clone()).or_insert(0usize) += 1;
    }
    for (c, n) in combinations.iter_mut().zip(names) {
        c.dir = if counts[&n] > 1 { format!("{n}_{}", c.index) } else { n };
    }
}
