//! The exact `aiperf profile` command line of one combination, from its merged config.

use std::path::Path;

use serde_json::{Map, Value};

use crate::model::options::{self, OptKind};

pub use crate::config::paths::OFFLINE_TOKENIZER;

/// The file in a run's directory that passes the API key to aiperf (`--config FILE`): it holds
/// only a reference to the environment variable (`${VAR}`), never the key.
pub const KEY_CONFIG_FILE: &str = "sweeper_api_key.yaml";

/// How an API key reaches aiperf without being in any command line (`/proc/<pid>/cmdline` is
/// readable by every local user): an aiperf YAML config, which aiperf 0.13 reads with `${VAR}`
/// substituted from its environment. aiperf validates that file on its own before the flags are
/// merged, and keeps every field of it that no flag names, so the skeleton is chosen per
/// combination (a file or synthetic dataset; a duration or a request count), and the flags that
/// override it are always passed (see [`key_config_defaults`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyConfig {
    pub env_var: String,
    /// `input_file` is set: a file dataset, else synthetic.
    pub file_dataset: bool,
    /// `benchmark_duration` is set: a duration phase, else a request count.
    pub duration: bool,
}

impl KeyConfig {
    /// The YAML written to [`KEY_CONFIG_FILE`]. `${VAR}${SWEEPER_NO_SUCH_VAR:}`: a value that is
    /// not only the reference, so a key that looks like a number stays a string.
    pub fn yaml(&self) -> String {
        let dataset = if self.file_dataset {
            "{type: file, path: placeholder.jsonl}"
        } else {
            "{type: synthetic}"
        };
        let phases = if self.duration {
            "{type: concurrency, duration: 1}"
        } else {
            "{type: concurrency, requests: 1}"
        };
        format!(
            "# Written by sweeper: passes the API key to aiperf from ${{{var}}} in its environment,\n\
             # so the key is in no command line. Every field below is overridden by a flag.\n\
             benchmark:\n  endpoint: {{apiKey: \"${{{var}}}${{SWEEPER_NO_SUCH_VAR:}}\"}}\n  dataset: {dataset}\n  phases: {phases}\n",
            var = self.env_var
        )
    }
}

/// aiperf options that cannot be combined with `--config` (aiperf 0.13 refuses them there).
pub const NOT_WITH_CONFIG: &[&str] = &[
    "public_dataset",
    "hf_weka_dataset",
    "variant",
    "sweep_type",
    "concurrency_min",
    "concurrency_max",
    "concurrency_steps",
    "isl_min",
    "isl_max",
    "isl_steps",
    "osl_min",
    "osl_max",
    "osl_steps",
    "ttft_sla_ms",
    "itl_sla_ms",
    "tpot_sla_ms",
    "e2e_sla_ms",
    "search_style",
];

/// Why a combination cannot pass its API key through a config file, if it cannot.
pub fn key_config_problem(merged: &Map<String, Value>) -> Option<String> {
    if !merged.contains_key("api_key_env_var") {
        return None;
    }
    let has = |k: &str| merged.keys().any(|m| options::canonical(m) == options::canonical(k));
    if has("config") {
        return Some(
            "`config` (an aiperf config file) cannot be combined with `api_key_env_var`: sweeper passes the key through an aiperf config file of its own".into(),
        );
    }
    if let Some(k) = NOT_WITH_CONFIG.iter().find(|k| has(k)) {
        return Some(format!(
            "`{k}` cannot be combined with `api_key_env_var`: sweeper passes the key through an aiperf config file, and aiperf refuses `--{}` with one",
            k.replace('_', "-")
        ));
    }
    if !has("request_count") && !has("benchmark_duration") && has("conversation_num") {
        return Some(
            "with `api_key_env_var`, set `request_count` or `benchmark_duration` (the run length aiperf derives from `conversation_num` alone cannot be passed with the key's config file)"
                .into(),
        );
    }
    None
}

/// The flags that make a run with [`KeyConfig`] measure what the same run without it would:
/// aiperf's own defaults, which the config file would otherwise replace (10 requests when no
/// length is given, as many dataset entries as requests, ISL 550 for synthetic prompts).
fn key_config_defaults(merged: &Map<String, Value>, k: &KeyConfig) -> Vec<Arg> {
    let has = |key: &str| merged.keys().any(|m| options::canonical(m) == options::canonical(key));
    let lit = |s: &str| Arg::Lit(s.to_owned());
    let mut out = Vec::new();
    if !k.duration && !has("request_count") {
        out.extend([lit("--request-count"), lit("10")]);
    }
    if !has("num_dataset_entries") && !has("conversation_num") {
        let count = merged
            .iter()
            .find(|(m, _)| options::canonical(m) == options::canonical("request_count"))
            .map(|(_, v)| scalar_text(v));
        match (count, k.duration) {
            (Some(n), _) => out.extend([lit("--num-dataset-entries"), Arg::Lit(n)]),
            (None, false) => out.extend([lit("--num-dataset-entries"), lit("10")]),
            (None, true) => {}
        }
    }
    if !k.file_dataset && !has("isl") {
        out.extend([lit("--isl"), lit("550")]);
    }
    out
}

/// One argument; most are literal, a few are only known when the run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Lit(String),
    /// The aiperf config file that carries the API key as `${env_var}` (see [`KeyConfig`]): the
    /// key itself is never in any argv, file or output.
    KeyConfig(KeyConfig),
    /// The combination's directory (aiperf `--artifact-dir`).
    ArtifactDir,
    /// The URL of the built-in mock server (its port is picked when it starts).
    MockUrl,
    /// The offline tokenizer's directory inside the managed venv.
    OfflineTokenizer,
    /// `none`, or `simple` with `--verbose`.
    Ui,
}

/// What the placeholders of an argv stand for when it is shown or run.
#[derive(Debug, Clone, Default)]
pub struct ArgContext<'a> {
    pub program: Option<&'a Path>,
    pub artifact_dir: Option<&'a Path>,
    pub mock_url: Option<&'a str>,
    pub offline_tokenizer: Option<&'a Path>,
    pub verbose: bool,
}

/// Renders an argv: program first. Unknown placeholders are shown as `<...>`.
pub fn render(args: &[Arg], ctx: &ArgContext<'_>) -> Vec<String> {
    let mut out =
        vec![ctx.program.map_or_else(|| "aiperf".to_owned(), |p| p.display().to_string())];
    for a in args {
        out.push(match a {
            Arg::Lit(s) => s.clone(),
            Arg::KeyConfig(_) => ctx.artifact_dir.map_or_else(
                || format!("<run dir>/{KEY_CONFIG_FILE}"),
                |p| p.join(KEY_CONFIG_FILE).display().to_string(),
            ),
            Arg::ArtifactDir => {
                ctx.artifact_dir.map_or_else(|| "<run dir>".to_owned(), |p| p.display().to_string())
            }
            Arg::MockUrl => {
                ctx.mock_url.map_or_else(|| "http://127.0.0.1:<port>".to_owned(), str::to_owned)
            }
            Arg::OfflineTokenizer => ctx.offline_tokenizer.map_or_else(
                || "<managed venv>/sweeper-offline-tokenizer".to_owned(),
                |p| p.display().to_string(),
            ),
            Arg::Ui => if ctx.verbose { "simple" } else { "none" }.to_owned(),
        });
    }
    out
}

/// A command line for people: shell-quoted, secrets masked.
pub fn shell_line(argv: &[String]) -> String {
    shell_words::join(argv)
}

pub use crate::records::scalar_text;

/// Builds the aiperf arguments (after the program) for a merged config.
/// `default_url` is the server's URL when base_config has none; `mock` means the built-in server.
pub fn build(merged: &Map<String, Value>, default_url: Option<&str>, mock: bool) -> Vec<Arg> {
    let mut args = vec![Arg::Lit("profile".into())];
    let lit = |s: &str| Arg::Lit(s.to_owned());
    let has = |key: &str| merged.keys().any(|m| options::canonical(m) == options::canonical(key));
    if let Some(Value::String(var)) = merged.get("api_key_env_var") {
        let k = KeyConfig {
            env_var: var.clone(),
            file_dataset: has("input_file"),
            duration: has("benchmark_duration"),
        };
        let defaults = key_config_defaults(merged, &k);
        args.push(lit("--config"));
        args.push(Arg::KeyConfig(k));
        args.extend(defaults);
    }
    let mut has_url = false;
    for (key, value) in merged {
        if matches!(key.as_str(), "health_check_endpoint" | "extra_args" | "api_key_env_var") {
            continue;
        }
        let Some(opt) = options::lookup(key) else { continue };
        let flag = format!("--{}", key.replace('_', "-"));
        if opt.flags[0] == "url" {
            has_url = true;
        }
        option_args(opt, flag, value, &mut args);
    }
    if !has_url {
        if mock {
            args.push(lit("--url"));
            args.push(Arg::MockUrl);
        } else if let Some(u) = default_url {
            args.push(lit("--url"));
            args.push(lit(u));
        }
    }
    args.push(lit("--artifact-dir"));
    args.push(Arg::ArtifactDir);
    args.push(lit("--ui"));
    args.push(Arg::Ui);
    if let Some(Value::Array(extra)) = merged.get("extra_args") {
        args.extend(extra.iter().map(|v| Arg::Lit(scalar_text(v))));
    }
    args
}

/// The arguments of one option: `--flag value` by its kind (a flag alone, a list repeating
/// the flag, `key:value` pairs, goodput's one argument of pairs, the offline tokenizer).
fn option_args(opt: &options::AiperfOption, flag: String, value: &Value, args: &mut Vec<Arg>) {
    let lit = |s: &str| Arg::Lit(s.to_owned());
    match (opt.kind, value) {
        (OptKind::Bool, Value::Bool(true)) => args.push(Arg::Lit(flag)),
        (OptKind::Bool, Value::Bool(false)) => {
            if let Some(neg) = opt.negation {
                args.push(Arg::Lit(format!("--{neg}")));
            }
        }
        (OptKind::Enum(choices), Value::String(s)) => {
            let chosen = choices
                .iter()
                .find(|c| **c == s || c.replace('-', "_") == *s)
                .copied()
                .unwrap_or(s);
            args.push(Arg::Lit(flag));
            args.push(lit(chosen));
        }
        (OptKind::List | OptKind::KeyValues, Value::Array(items)) => {
            for it in items {
                args.push(Arg::Lit(flag.clone()));
                args.push(Arg::Lit(scalar_text(it)));
            }
        }
        // aiperf takes extra Prometheus endpoints as the values of ONE flag:
        // `--server-metrics node1:8081 node2:9090/metrics`.
        (OptKind::Str, Value::Array(items)) if opt.flags[0] == "server-metrics" => {
            args.push(Arg::Lit(flag));
            args.extend(items.iter().map(|it| Arg::Lit(scalar_text(it))));
        }
        (OptKind::KeyValues, Value::Object(m)) => {
            for (k, v) in m {
                args.push(Arg::Lit(flag.clone()));
                args.push(Arg::Lit(format!("{k}:{}", scalar_text(v))));
            }
        }
        (OptKind::Goodput, Value::Object(m)) => {
            // aiperf takes ONE argument of space-separated tag:value pairs.
            let joined: Vec<String> =
                m.iter().map(|(k, v)| format!("{k}:{}", scalar_text(v))).collect();
            args.push(Arg::Lit(flag));
            args.push(Arg::Lit(joined.join(" ")));
        }
        (OptKind::Goodput, Value::String(s)) => {
            args.push(Arg::Lit(flag));
            args.push(Arg::Lit(s.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        (_, Value::String(s)) if opt.flags[0] == "tokenizer" && s == OFFLINE_TOKENIZER => {
            args.push(Arg::Lit(flag));
            args.push(Arg::OfflineTokenizer);
        }
        (_, Value::Null) => {}
        // JSON Schema's `integer` accepts `4.0`; aiperf's integer options do not parse "4.0".
        (OptKind::Int { .. }, Value::Number(n))
            if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                && !(n.is_i64() || n.is_u64()) =>
        {
            args.push(Arg::Lit(flag));
            args.push(Arg::Lit(format!("{}", n.as_f64().unwrap_or_default() as i64)));
        }
        (_, v) => {
            args.push(Arg::Lit(flag));
            args.push(Arg::Lit(scalar_text(v)));
        }
    }
}
