//! The exact `aiperf profile` command line of one combination, from its merged config.

use std::path::Path;

use serde_json::{Map, Value};

use crate::config::options::{self, OptKind};
use crate::redact::MASK;

/// The `tokenizer` value that asks sweeper for its offline tokenizer (built once in the managed
/// venv from text that aiperf ships), for machines without a model hub.
pub const OFFLINE_TOKENIZER: &str = "@offline";

/// One argument; most are literal, a few are only known when the run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Lit(String),
    /// The value of an environment variable (an API key): never printed, never written.
    Secret {
        env_var: String,
    },
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
    /// Put the real secret values in (only for the argv handed to the child process).
    pub reveal_secrets: bool,
}

/// Renders an argv: program first. Unknown placeholders are shown as `<...>`.
pub fn render(args: &[Arg], ctx: &ArgContext<'_>) -> Vec<String> {
    let mut out =
        vec![ctx.program.map_or_else(|| "aiperf".to_owned(), |p| p.display().to_string())];
    for a in args {
        out.push(match a {
            Arg::Lit(s) => s.clone(),
            Arg::Secret { env_var } if ctx.reveal_secrets => {
                std::env::var(env_var).unwrap_or_default()
            }
            Arg::Secret { .. } => MASK.to_owned(),
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

/// Text of a scalar as a command-line value (numbers as JSON prints them).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Builds the aiperf arguments (after the program) for a merged config.
/// `default_url` is the server's URL when base_config has none; `mock` means the built-in server.
pub fn build(merged: &Map<String, Value>, default_url: Option<&str>, mock: bool) -> Vec<Arg> {
    let mut args = vec![Arg::Lit("profile".into())];
    let lit = |s: &str| Arg::Lit(s.to_owned());
    let mut has_url = false;
    for (key, value) in merged {
        match key.as_str() {
            "health_check_endpoint" | "extra_args" => continue,
            "api_key_env_var" => {
                if let Value::String(var) = value {
                    args.push(lit("--api-key"));
                    args.push(Arg::Secret { env_var: var.clone() });
                }
                continue;
            }
            _ => {}
        }
        let Some(opt) = options::lookup(key) else { continue };
        let flag = format!("--{}", key.replace('_', "-"));
        if opt.flags[0] == "url" {
            has_url = true;
        }
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
