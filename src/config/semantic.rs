//! The semantic checks of a config: what its schema cannot express (a value listed twice in a
//! sweep, scenarios and exclude entries that contradict the sweeps, `server.*` sweeps, durations
//! out of range, a missing `url` or `model`), and the warnings that do not stop a run.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::durations;
use super::error::Diagnostic;
use super::locate::escape_segment;
use super::raw::{RawConfig, ServerConfig};
use super::schema_check::{did_you_mean, server_fields, server_hint, server_problems};
use crate::model::options::canonical;

/// Places a diagnostic at its key (`true`) or its value (`false`).
type At<'a> = &'a dyn Fn(Diagnostic, bool) -> Diagnostic;

/// Checks the schema cannot express.
pub(super) fn semantic(
    cfg: &RawConfig,
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    repeated_sweep_values(cfg, diags, at);
    let sweep_keys: BTreeSet<String> = cfg.sweeps.keys().map(|k| canonical(k)).collect();
    check_scenarios(cfg, &sweep_keys, diags, at);
    check_exclude(cfg, &sweep_keys, diags, at);
    check_server_sweeps(cfg, top, diags, at);
    check_cost(cfg, diags, at);
    check_durations(cfg, diags, at);
    check_url_and_model(cfg, &sweep_keys, diags, at);
    warn(cfg, warnings, at);
}

/// Repeated values in one sweep list would run the same point twice into one directory.
/// Linear: each value's canonical key goes into a set (`1` and `1.0` are one point).
fn repeated_sweep_values(cfg: &RawConfig, diags: &mut Vec<Diagnostic>, at: At<'_>) {
    for (k, v) in &cfg.sweeps {
        let Some(list) = v.as_array() else { continue };
        let mut seen = std::collections::HashSet::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            if !seen.insert(super::value_key(item)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/sweeps/{}/{i}", escape_segment(k)),
                        format!("`{item}` is listed twice in sweep `{k}`"),
                    )
                    .hint("remove the repeated value"),
                    false,
                ));
            }
        }
    }
}

/// Scenarios: none empty, no duplicates, no key that a sweep also sets (which would win is
/// unclear).
fn check_scenarios(
    cfg: &RawConfig,
    sweep_keys: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    for (i, s) in cfg.scenarios.iter().enumerate() {
        if s.is_empty() {
            diags.push(at(
                Diagnostic::new(format!("/scenarios/{i}"), "empty scenario")
                    .hint("give it at least one key, or remove it"),
                false,
            ));
        }
        if cfg.scenarios[..i].iter().any(|o| o == s) {
            diags.push(at(
                Diagnostic::new(format!("/scenarios/{i}"), "this scenario repeats an earlier one")
                    .hint("remove it"),
                false,
            ));
        }
        for k in s.keys() {
            if sweep_keys.contains(&canonical(k)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/scenarios/{i}/{}", escape_segment(k)),
                        format!("`{k}` is set both by this scenario and by `sweeps`"),
                    )
                    .hint("set it in one place: either each scenario or the sweep"),
                    true,
                ));
            }
        }
    }
}

/// Exclude entries may only name keys that vary, and may not be empty.
fn check_exclude(
    cfg: &RawConfig,
    sweep_keys: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    let mut varying: BTreeSet<String> = sweep_keys.clone();
    for s in &cfg.scenarios {
        varying.extend(s.keys().map(|k| canonical(k)));
    }
    for (i, ex) in cfg.exclude.iter().enumerate() {
        if ex.is_empty() {
            diags.push(at(
                Diagnostic::new(
                    format!("/exclude/{i}"),
                    "empty exclude entry would drop every combination",
                )
                .hint("name the key/values to drop"),
                false,
            ));
        }
        for k in ex.keys() {
            if !varying.contains(&canonical(k)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/exclude/{i}/{}", escape_segment(k)),
                        format!("`{k}` is not swept, so excluding on it drops all or nothing"),
                    )
                    .hint(format!(
                        "exclude on swept keys: {}",
                        varying.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                    true,
                ));
            }
        }
    }
}

/// `server.*` sweeps: there is a server section, the field exists for its kind, and each value
/// is valid.
fn check_server_sweeps(
    cfg: &RawConfig,
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    let server_obj = top.get("server").and_then(Value::as_object);
    for (k, v) in &cfg.sweeps {
        let Some(field) = k.strip_prefix("server.") else { continue };
        let p = format!("/sweeps/{}", escape_segment(k));
        let Some(server) = server_obj else {
            diags.push(at(
                Diagnostic::new(
                    p,
                    format!("`{k}` sweeps a server setting, but there is no `server` section"),
                )
                .hint("add a `server:` section (e.g. `kind: mock`)"),
                true,
            ));
            continue;
        };
        let kind = server.get("kind").and_then(Value::as_str).unwrap_or("");
        let fields = server_fields(kind);
        let map_entry = field.split_once('.').is_some_and(|(m, k)| {
            !k.is_empty() && super::raw::MAP_FIELDS.contains(&m) && fields.iter().any(|f| f == m)
        });
        if field == "kind" || (!map_entry && !fields.iter().any(|f| f == field)) {
            diags.push(at(unknown_server_field(&p, kind, field, &fields), true));
            continue;
        }
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            check_server_value(server, field, item, &format!("{p}/{i}"), diags, at);
        }
    }
}

/// A swept `server.<field>` that a server of `kind` does not have.
fn unknown_server_field(pointer: &str, kind: &str, field: &str, fields: &[String]) -> Diagnostic {
    let d = Diagnostic::new(pointer, format!("a `{kind}` server has no setting `{field}`"));
    match did_you_mean(field, fields) {
        Some(s) if s != "kind" => d.hint(format!("did you mean `server.{s}`?")),
        _ => d.hint(format!(
            "sweepable settings: {}",
            fields.iter().filter(|f| *f != "kind").cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// One value of a `server.<field>` sweep (at `pointer`), checked as the server section it makes.
fn check_server_value(
    server: &Map<String, Value>,
    field: &str,
    item: &Value,
    pointer: &str,
    diags: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    let mut merged = server.clone();
    super::raw::set_server_field(&mut merged, field, item.clone());
    match serde_json::from_value::<ServerConfig>(Value::Object(merged)) {
        Err(e) => diags.push(at(
            Diagnostic::new(pointer, format!("invalid value for `server.{field}`: {e}"))
                .hint("see the `server` section of `sweeper schema`"),
            false,
        )),
        Ok(s) => {
            for (f, msg) in server_problems(&s).into_iter().filter(|(f, _)| *f == field) {
                diags.push(at(
                    Diagnostic::new(pointer, format!("`server.{f}`: {msg}")).hint(server_hint(f)),
                    false,
                ));
            }
        }
    }
}

/// Durations and the mock server's parameters: checked now, so nothing out of range reaches
/// the run (where it could only fail, or panic converting to a Duration).
fn check_durations(cfg: &RawConfig, diags: &mut Vec<Diagnostic>, at: At<'_>) {
    if let Some(server) = &cfg.server {
        for (field, msg) in server_problems(server) {
            let pointer = format!("/server/{field}");
            diags.push(at(Diagnostic::new(pointer, msg).hint(server_hint(field)), false));
        }
    }
    for (field, v) in [
        ("run_timeout_s", cfg.aiperf.run_timeout_s),
        ("stop_grace_s", Some(cfg.aiperf.stop_grace_s)),
    ] {
        if let Some(v) = v
            && let Err(e) = durations::check_seconds(v)
        {
            diags.push(at(
                Diagnostic::new(format!("/aiperf/{field}"), e.to_string())
                    .hint("give a number of seconds, at most 31536000 (one year)"),
                false,
            ));
        }
    }
}

/// A base_config key by any alias: (the key as written, its value).
fn base_value<'a>(cfg: &'a RawConfig, key: &str) -> Option<(String, &'a Value)> {
    let c = canonical(key);
    cfg.base_config.iter().find(|(bk, _)| canonical(bk) == c).map(|(bk, v)| (bk.clone(), v))
}

/// Contradictions that do not depend on the combination: a `url` with the mock server, and no
/// `url` or no `model` at all.
fn check_url_and_model(
    cfg: &RawConfig,
    sweep_keys: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
    at: At<'_>,
) {
    if let Some(ServerConfig::Mock(_)) = &cfg.server
        && let Some((k, _)) = base_value(cfg, "url")
    {
        diags.push(at(
            Diagnostic::new(format!("/base_config/{k}"), "`url` cannot be set with `server: {kind: mock}`")
                .hint("remove it: sweeper starts the mock server on a free port of 127.0.0.1 and points aiperf at it"),
            true,
        ));
    }
    let has_url = base_value(cfg, "url").is_some()
        || sweep_keys.contains(&canonical("url"))
        || matches!(cfg.server, Some(ServerConfig::Mock(_)))
        || matches!(&cfg.server, Some(ServerConfig::External { url: Some(_), .. }))
        || matches!(
            &cfg.server,
            Some(
                ServerConfig::Command { .. }
                    | ServerConfig::LlamaCpp { .. }
                    | ServerConfig::Docker { .. }
                    | ServerConfig::TtInferenceServer { .. }
                    | ServerConfig::Kubernetes(_)
            )
        );
    if !has_url {
        diags.push(at(
            Diagnostic::new("/base_config", "missing `url`: sweeper needs to know which server to benchmark")
                .hint("add `url: http://HOST:PORT` to base_config, or a `server:` section (`kind: mock` to rehearse locally)"),
            true,
        ));
    }
    let has_model = base_value(cfg, "model_names").is_some()
        || sweep_keys.contains(&canonical("model"))
        || cfg.scenarios.iter().all(|s| s.keys().any(|k| canonical(k) == "model_names"))
            && !cfg.scenarios.is_empty();
    if !has_model {
        diags.push(at(
            Diagnostic::new("/base_config", "missing `model`: aiperf needs the model name to put in each request")
                .hint("add `model: NAME` to base_config (the name the server serves, e.g. `meta/llama-3.3-70b-instruct`)"),
            true,
        ));
    }
}

/// Problems that do not stop a run: aiperf and the health check pointed at different URLs, an
/// API key variable that is not set.
fn warn(cfg: &RawConfig, warnings: &mut Vec<Diagnostic>, at: At<'_>) {
    if let Some(ServerConfig::External { url: Some(u), .. }) = &cfg.server
        && let Some((k, Value::String(bu))) = base_value(cfg, "url")
        && bu.trim_end_matches('/') != u.trim_end_matches('/')
    {
        warnings.push(at(
            Diagnostic::new(
                format!("/base_config/{k}"),
                format!("aiperf will benchmark `{bu}` but sweeper checks the health of `{u}`"),
            )
            .hint("make them the same unless a proxy sits in between"),
            false,
        ));
    }
    if let Some((k, Value::String(var))) = base_value(cfg, "api_key_env_var")
        && std::env::var_os(var).is_none_or(|v| v.is_empty())
    {
        let what = if std::env::var_os(var).is_some() { "is empty" } else { "is not set" };
        warnings.push(at(
            Diagnostic::new(
                format!("/base_config/{k}"),
                format!("environment variable `{var}` {what}"),
            )
            .hint(format!(
                "`export {var}=...` before running; the run refuses to start without it"
            )),
            false,
        ));
    }
}

/// The `cost` section and `cost.*` sweeps: every combination's prices are complete, single and
/// positive (checked per swept value against the section).
fn check_cost(cfg: &RawConfig, diags: &mut Vec<Diagnostic>, at: At<'_>) {
    let swept: Vec<(&String, &Value)> =
        cfg.sweeps.iter().filter(|(k, _)| k.starts_with("cost.")).collect();
    let base = cfg.cost.clone().unwrap_or_default();
    if cfg.cost.is_some() || !swept.is_empty() {
        // The section with each swept field at its first value: the combination's shape.
        let mut shape = base.clone();
        for (k, v) in &swept {
            let first = v.as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null);
            let p: crate::records::Params = [((*k).clone(), first)].into_iter().collect();
            shape = shape.with_params(&p);
        }
        for (field, msg) in shape.problems() {
            let from_sweep = swept.iter().find(|(k, _)| k.strip_prefix("cost.") == Some(field));
            let pointer = match from_sweep {
                Some((k, _)) => format!("/sweeps/{}", escape_segment(k)),
                None if cfg.cost.is_some() && msg.contains("prices nothing") => "/cost".into(),
                None if cfg.cost.is_some() => format!("/cost/{field}"),
                None => format!("/sweeps/{}", escape_segment(swept[0].0)),
            };
            diags.push(at(
                Diagnostic::new(pointer, format!("`cost`: {msg}")).hint(
                    "e.g. `cost: {usd_per_gpu_hour: 2.5, gpus: 8}` or `cost: {usd_per_hour: 20}`",
                ),
                true,
            ));
        }
    }
    for (k, v) in swept {
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            if !item.as_f64().is_some_and(|x| x.is_finite() && x > 0.0 && x <= 1e9) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/sweeps/{}/{i}", escape_segment(k)),
                        format!("`{k}` must be a positive number of at most 1e9, not {item}"),
                    )
                    .hint("prices are US dollars per hour (or per GPU-hour); GPUs a count"),
                    false,
                ));
            }
        }
    }
}
