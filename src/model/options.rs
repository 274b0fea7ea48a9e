//! The aiperf option model: what kind of value each `aiperf profile` option takes.

/// The lowest `request_rate` (and `search.min` for it) sweeper runs: below one request per
/// 1000 s a run would not end in practice.
pub const MIN_REQUEST_RATE: f64 = 0.001;

/// The largest single argument Linux passes to a program (MAX_ARG_STRLEN, 128 KiB).
pub const MAX_ARG_BYTES: usize = 128 * 1024;

/// What sweeper lets one aiperf command line take in all (Linux's limit for arguments and
/// environment together is usually 2 MiB; the environment needs its share).
pub const MAX_ARGV_BYTES: usize = 1024 * 1024;

/// The value an option takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptKind {
    /// A flag: `true` -> `--flag`, `false` -> `--no-flag` when it exists, else omitted.
    Bool,
    Int {
        min: i64,
    },
    Number {
        min: f64,
        exclusive: bool,
    },
    Str,
    Enum(&'static [&'static str]),
    /// A string or a list of strings; a list repeats the flag.
    List,
    /// `key:value` strings, as a list or a mapping (`extra_inputs: {ignore_eos: true}`).
    KeyValues,
    /// SLOs: a string `'tag:value tag:value'` or a mapping; always ONE argument.
    Goodput,
    /// A number or a string (e.g. `inf`).
    Scalar,
}

/// One `aiperf profile` option.
#[derive(Debug)]
pub struct AiperfOption {
    /// Long flags without `--`, the first is the canonical one; the rest are aliases.
    pub flags: &'static [&'static str],
    /// The `--no-...` form of a boolean flag, if aiperf has one.
    pub negation: Option<&'static str>,
    pub kind: OptKind,
    /// The help section it is listed in.
    pub section: &'static str,
    /// The first sentence of its help.
    pub help: &'static str,
}

use std::collections::HashMap;
use std::sync::OnceLock;

use super::aiperf_options::OPTIONS;

/// `num_profile_runs` of a merged config (under any of its spellings), when set: what aiperf
/// was asked for, which decides the layout of its results.
pub fn num_profile_runs(config: &serde_json::Map<String, serde_json::Value>) -> Option<u64> {
    config.iter().find(|(k, _)| canonical(k) == "num_profile_runs").and_then(|(_, v)| v.as_u64())
}

/// Looks up an option by config key (`prompt_input_tokens_mean`, `isl`, `request_rate_mode`...)
/// or by flag (`prompt-input-tokens-mean`). Every long alias of a flag is a valid key.
pub fn lookup(key: &str) -> Option<&'static AiperfOption> {
    static INDEX: OnceLock<HashMap<String, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, o) in OPTIONS.iter().enumerate() {
            for f in o.flags {
                m.insert(f.replace('-', "_"), i);
            }
        }
        m
    });
    // No allocation for the common spelling (snake_case): this runs for every key of every
    // combination while planning.
    let found = if key.contains('-') { index.get(&key.replace('-', "_")) } else { index.get(key) };
    found.map(|&i| &OPTIONS[i])
}

/// The canonical config key of an option (`isl` -> `prompt_input_tokens_mean`), so that two
/// spellings of one option can be recognised as the same parameter. Keys that are not aiperf
/// options (sweeper's own, `server.*`) are returned unchanged.
pub fn canonical(key: &str) -> String {
    match lookup(key) {
        Some(o) => o.flags[0].replace('-', "_"),
        None => key.to_owned(),
    }
}

/// Every config key that names an aiperf option (all aliases), for "did you mean" hints.
pub fn all_keys() -> impl Iterator<Item = String> {
    OPTIONS.iter().flat_map(|o| o.flags.iter().map(|f| f.replace('-', "_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_share_one_canonical_key() {
        assert_eq!(canonical("isl"), "prompt_input_tokens_mean");
        assert_eq!(canonical("synthetic_input_tokens_mean"), "prompt_input_tokens_mean");
        assert_eq!(canonical("osl"), "prompt_output_tokens_mean");
        assert_eq!(canonical("request_rate_mode"), "arrival_pattern");
        assert_eq!(canonical("num_requests"), "request_count");
        assert_eq!(canonical("model"), "model_names");
        assert_eq!(canonical("server.port"), "server.port");
        assert!(matches!(lookup("streaming").unwrap().kind, OptKind::Bool));
        assert!(matches!(lookup("concurrency").unwrap().kind, OptKind::Int { min: 1 }));
    }
}
