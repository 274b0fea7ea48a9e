//! The JSON Schema check of a config: the generated schema (built once), and each schema error
//! turned into a diagnostic at its key path with a hint (did you mean, the allowed values).

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::durations;
use super::error::Diagnostic;
use super::locate::{LocationIndex, escape_segment};
use super::raw::{self, SWEEPER_KEYS, ServerConfig};
pub(crate) use crate::model::diagnostic::did_you_mean;
use crate::model::options::{self};

/// `schemas/sweeper.schema.json`, the generator's output committed with the code (a test keeps
/// the two equal: `the_embedded_schema_is_the_generated_one`, and `tests/schema.rs`).
pub(super) const EMBEDDED_SCHEMA: &str = include_str!("../../schemas/sweeper.schema.json");

/// The schema generated from the config types, read once per process: from its committed copy
/// (parsing it takes a tenth of generating it again, which every start of sweeper paid), or
/// generated when that copy does not parse. Only the diagnostics of a config with problems read
/// it whole; a config check compiles the part its config reaches ([`super::schema_cut`]).
pub(super) fn schema_value() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(EMBEDDED_SCHEMA).unwrap_or_else(|_| raw::schema()))
}

/// The generated schema that does not compile (a bug of sweeper's, never of a config).
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum SchemaError {
    /// The validator refused the schema: its message.
    #[error("{message}")]
    DoesNotCompile { message: String },
}

/// The whole schema's validator (tests: the generated schema compiles and checks itself).
#[cfg(test)]
pub(super) fn compiled_schema() -> Result<jsonschema::Validator, SchemaError> {
    jsonschema::validator_for(schema_value())
        .map_err(|e| SchemaError::DoesNotCompile { message: e.to_string() })
}

/// The property names of the schema object at `pointer` (e.g. `/$defs/AiperfSettings`):
/// the keys allowed there, read from the same schema that validates them.
pub(super) fn schema_keys(pointer: &str) -> Vec<String> {
    schema_value()
        .pointer(pointer)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null (an empty value)",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Whether the mapping at `pointer` takes aiperf's options (and sweeper's per-run keys):
/// `base_config`, `sweeps`, each scenario and each exclude entry.
fn takes_aiperf_options(pointer: &str) -> bool {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    matches!(segs.as_slice(), ["base_config"] | ["sweeps"] | ["scenarios", _] | ["exclude", _])
}

/// The keys allowed where an "unknown key" error was found, for "did you mean".
pub(super) fn candidates_for(pointer: &str, work: &Value) -> Vec<String> {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    match segs.as_slice() {
        [] => schema_keys(""),
        _ if takes_aiperf_options(pointer) => {
            let mut v: Vec<String> = options::all_keys().collect();
            v.extend(SWEEPER_KEYS.iter().map(|(k, _)| (*k).to_owned()));
            v
        }
        ["server"] => {
            server_fields(work.pointer("/server/kind").and_then(Value::as_str).unwrap_or(""))
        }
        ["aiperf"] => schema_keys("/$defs/AiperfSettings"),
        ["targets"] => schema_keys("/$defs/TargetsConfig"),
        ["targets", "points", _] => schema_keys("/$defs/TargetPoint"),
        ["tt"] => schema_keys("/$defs/TtConfig"),
        ["repeats"] => schema_keys("/$defs/RepeatsSpec"),
        ["stop_when"] => schema_keys("/$defs/StopWhenConfig"),
        ["search"] => schema_keys("/$defs/SearchConfig"),
        ["ab"] => schema_keys("/$defs/AbConfig"),
        ["cost"] => schema_keys("/$defs/CostConfig"),
        _ => Vec::new(),
    }
}

/// The fields a server `kind` accepts (from the generated schema).
pub(crate) fn server_fields(kind: &str) -> Vec<String> {
    server_variant_schema(kind)
        .and_then(|s| {
            s.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect())
        })
        .unwrap_or_default()
}

pub(super) fn server_variant_schema(kind: &str) -> Option<Value> {
    super::schema_cut::definition("ServerConfig")?
        .get("oneOf")?
        .as_array()?
        .iter()
        .find(|v| v.pointer("/properties/kind/const").and_then(Value::as_str) == Some(kind))
        .cloned()
}

const SERVER_KINDS: &[&str] =
    &["external", "command", "docker", "tt-inference-server", "mock", "llama-cpp", "kubernetes"];

/// The diagnostics of one schema error, by its kind (one arm per kind of error sweeper
/// describes better than the validator's message).
pub(super) fn schema_diagnostic(
    e: &jsonschema::ValidationError<'_>,
    work: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let pointer = e.instance_path().as_str().to_owned();
    let instance = work.pointer(&pointer).unwrap_or(&Value::Null);
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unexpected.iter().map(|k| unknown_key(&pointer, k, work, index)).collect()
        }
        ValidationErrorKind::Required { property } => {
            vec![missing_key(&pointer, property.as_str().unwrap_or("?"), index)]
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. }
            if pointer == "/server" =>
        {
            server_diagnostics(instance, index)
        }
        ValidationErrorKind::AnyOf { .. } if pointer == "/repeats" => {
            repeats_diagnostics(e, &pointer, instance, index)
        }
        // An optional section (`targets: ...`) is "X or null": say what is wrong inside X.
        ValidationErrorKind::AnyOf { .. } if instance.is_object() => {
            let inner = optional_section_diagnostics(&pointer, instance, index);
            if inner.is_empty() {
                vec![Diagnostic::new(pointer.clone(), e.to_string()).at(index.value(&pointer))]
            } else {
                inner
            }
        }
        ValidationErrorKind::MinItems { limit }
            if pointer.starts_with("/sweeps/") && *limit == 1 =>
        {
            vec![
                Diagnostic::new(pointer.clone(), "empty sweep list".to_owned())
                    .hint("give at least one value, or remove the key from `sweeps`")
                    .at(index.value(&pointer)),
            ]
        }
        _ => vec![wrong_value(e, &pointer, instance, index)],
    }
}

/// `k`, a key the mapping at `pointer` does not allow, with the nearest allowed one.
fn unknown_key(pointer: &str, k: &str, work: &Value, index: &LocationIndex) -> Diagnostic {
    let p = format!("{pointer}/{}", escape_segment(k));
    let candidates = candidates_for(pointer, work);
    let d = Diagnostic::new(p.clone(), format!("unknown key `{k}`"));
    let d = match did_you_mean(k, &candidates) {
        _ if pointer == "/sweeps" && k.starts_with("cost.") => d.hint(format!(
            "the `cost` section's fields are {}",
            crate::cost::spec::FIELDS.map(|f| format!("`cost.{f}`")).join(", ")
        )),
        Some(s) => d.hint(format!("did you mean `{s}`?")),
        None if takes_aiperf_options(pointer) => d.hint(
            "not an aiperf 0.13 `profile` option; pass other flags verbatim with `extra_args: [\"--flag\", \"value\"]`",
        ),
        None => d.hint(format!("allowed here: {}", candidates.join(", "))),
    };
    d.at(index.key(&p))
}

/// `prop`, a key the mapping at `pointer` requires, with what to set it to.
fn missing_key(pointer: &str, prop: &str, index: &LocationIndex) -> Diagnostic {
    let hint = match prop {
        "base_config" => "add `base_config:` with at least `model` and `url`",
        "kind" => "set `kind:` to one of external, command, docker, tt-inference-server, mock",
        "impl" => "set `impl:` to tt's implementation name of the model, e.g. `tt-transformers`",
        "count" => "set `count:` to how many times every point runs, e.g. `count: 3`",
        _ => "add the missing key",
    };
    Diagnostic::new(pointer, format!("missing required key `{prop}`"))
        .hint(hint)
        .at(index.key(pointer))
}

/// `repeats`, which is a count or a mapping: the problems inside the mapping, or what it
/// should have been.
fn repeats_diagnostics(
    e: &jsonschema::ValidationError<'_>,
    pointer: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let d = if instance.is_object() {
        let inner = def_diagnostics(pointer, "#/$defs/RepeatsSpec", instance, index);
        if !inner.is_empty() {
            return inner;
        }
        Diagnostic::new(pointer, e.to_string())
    } else if instance.is_u64() || instance.is_i64() {
        Diagnostic::new(pointer, format!("{instance} repeats: a count from 1 to 100 is expected"))
    } else {
        Diagnostic::new(
            pointer,
            format!("expected a count or a mapping, found {}", kind_of(instance)),
        )
    };
    vec![d
        .hint("`repeats: 3`, or `repeats: {count: 3, order: interleaved | back_to_back, confidence: 0.95, noise_cv_max: 0.05}`")
        .at(index.value(pointer))]
}

/// Any other schema error: the validator's message (shortened), what was found, and what the
/// key takes.
fn wrong_value(
    e: &jsonschema::ValidationError<'_>,
    pointer: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Diagnostic {
    let key_path = super::error::pointer_to_key_path(pointer);
    let mut msg = e.to_string();
    if msg.len() > 300 {
        msg.truncate(300);
        msg.push_str("...");
    }
    let mut hint = value_hint(pointer);
    // YAML 1.1 reads plain `y`, `n`, `yes`, `no`, `on`, `off` as booleans.
    if instance.is_boolean() && msg.contains("\"string\"") {
        hint = Some(format!(
            "{}YAML reads unquoted y/n/yes/no/on/off as booleans: quote the value (`\"y\"`) to keep it a string",
            hint.map(|h| format!("{h}; ")).unwrap_or_default()
        ));
    }
    let d = Diagnostic::new(pointer, format!("{msg} (found {})", kind_of(instance)));
    let d = if let Some(h) = hint {
        d.hint(h)
    } else if key_path == "(document)" {
        d.hint("see `sweeper schema` for the config format")
    } else {
        d.hint(format!("see `sweeper schema` (or the README) for what `{key_path}` takes"))
    };
    d.at(index.value(pointer))
}

/// What a key takes, from the option table.
pub(super) fn value_hint(pointer: &str) -> Option<String> {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    if let Some(hint) = section_hint(&segs) {
        return Some(hint);
    }
    let key = match segs.as_slice() {
        ["base_config", "goodput", ..] => "goodput",
        ["base_config", k] | ["sweeps", k, _] | ["scenarios", _, k] | ["exclude", _, k] => *k,
        _ => return None,
    };
    if let Some(hint) = sweeper_key_hint(key) {
        return Some(hint.to_owned());
    }
    let o = options::lookup(key)?;
    Some(format!("`{key}` (aiperf --{}) takes {}", o.flags[0], option_takes(o.kind)))
}

/// What a key of sweeper's own sections (not an aiperf option) takes, by its path segments.
fn section_hint(segs: &[&str]) -> Option<String> {
    let hint = match segs {
        ["sweeps", k] => format!("a sweep is a non-empty list of values, e.g. `{k}: [1, 2, 4]`"),
        ["batch_name"] => {
            "`batch_name` becomes a directory name: letters, digits, `.`, `_`, `-`".to_owned()
        }
        ["max_combinations"] => "`max_combinations` takes an integer >= 1".to_owned(),
        ["tt", "device"] => format!(
            "one of the devices tt-inference-server's aiperf report reads back from file names: {}",
            crate::tt::names::NAME_DEVICES.join(", ")
        ),
        ["tt", "impl" | "model"] => {
            "a plain name: letters, digits, `-`, `.`, `_` (e.g. `tt-transformers`, `Llama-3.3-70B-Instruct`)"
                .to_owned()
        }
        ["search", "min" | "max"] => {
            "`search.min` and `search.max` bound the searched load: above 0, at most 1000000, `min` below `max`"
                .to_owned()
        }
        ["search", "resolution"] => {
            "a fraction from 0.001 to 1: the search stops when the first failing value is within it of the last passing one (0.1 = 10%)"
                .to_owned()
        }
        ["search" | "stop_when", "slo", k] => {
            format!("an SLO is an upper bound of 0 or more, e.g. `{k}: 2000`")
        }
        _ => return None,
    };
    Some(hint)
}

/// What one of sweeper's own base_config keys takes.
fn sweeper_key_hint(key: &str) -> Option<&'static str> {
    match key {
        "api_key_env_var" => Some(
            "`api_key_env_var` takes the NAME of an environment variable (e.g. `NVIDIA_API_KEY`), not the key itself",
        ),
        "health_check_endpoint" => {
            Some("`health_check_endpoint` takes a path starting with `/`, e.g. `/v1/models`")
        }
        "extra_args" => {
            Some("`extra_args` takes a list of strings, e.g. `[\"--flag\", \"value\"]`")
        }
        _ => None,
    }
}

/// What a value of an aiperf option of `kind` is (one arm per option kind).
fn option_takes(kind: options::OptKind) -> String {
    match kind {
        options::OptKind::Bool => "true or false".to_owned(),
        options::OptKind::Int { min } if min == i64::MIN => {
            format!("an integer of magnitude at most {}", super::raw::MAX_OPTION_INT)
        }
        options::OptKind::Int { min } => {
            format!("an integer from {min} to {}", super::raw::MAX_OPTION_INT)
        }
        options::OptKind::Number { min, exclusive: true } => format!("a number > {min}"),
        options::OptKind::Number { min, .. } if min == f64::MIN => "a number".to_owned(),
        options::OptKind::Number { min, .. } => format!("a number >= {min}"),
        options::OptKind::Str => "a string".to_owned(),
        options::OptKind::Enum(c) => format!("one of: {}", c.join(", ")),
        options::OptKind::List => "a string or a list of strings".to_owned(),
        options::OptKind::KeyValues => "a mapping (`{key: value}`) or a list of `key:value` strings".to_owned(),
        options::OptKind::Goodput => {
            "a mapping of metric tag to value (`{time_to_first_token: 25}`) or one string `'tag:value tag:value'`".to_owned()
        }
        options::OptKind::Scalar => "a number or a string".to_owned(),
    }
}

/// Errors inside an optional top-level section, validated against its own definition rather
/// than as one branch of "definition or null" (whose error would only say "no branch matched").
pub(super) fn optional_section_diagnostics(
    pointer: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let root = schema_value();
    let Some(section) = pointer.strip_prefix('/').filter(|s| !s.contains('/')) else {
        return Vec::new();
    };
    let def = root
        .pointer(&format!("/properties/{section}/anyOf"))
        .and_then(Value::as_array)
        .and_then(|branches| branches.iter().find_map(|b| b.get("$ref").and_then(Value::as_str)));
    let Some(def) = def else { return Vec::new() };
    def_diagnostics(pointer, def, instance, index)
}

/// The problems of `instance` (at `pointer`, a top-level section) against the schema's `def`
/// (`#/$defs/X`), each re-rooted under the section and described as any other.
pub(super) fn def_diagnostics(
    pointer: &str,
    def: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let root = schema_value();
    let Some(section) = pointer.strip_prefix('/').filter(|s| !s.contains('/')) else {
        return Vec::new();
    };
    let wrapper =
        serde_json::json!({ "$ref": def, "$defs": root.get("$defs").cloned().unwrap_or_default() });
    let Ok(v) = jsonschema::validator_for(&wrapper) else { return Vec::new() };
    let wrapped = serde_json::json!({ section: instance });
    let mut out = Vec::new();
    for e in v.iter_errors(instance) {
        let sub = e.instance_path().as_str().to_owned();
        // Re-root the error under the section, then describe it as any other.
        let mut ds = schema_diagnostic(&e, &wrapped[section], index);
        for d in &mut ds {
            let rel = d.pointer.strip_prefix(&sub).map(str::to_owned).unwrap_or_default();
            d.pointer = format!("{pointer}{sub}{rel}");
            let key_error =
                d.message.starts_with("unknown key") || d.message.starts_with("missing required");
            d.pos = if key_error { index.key(&d.pointer) } else { index.value(&d.pointer) };
            if d.message.starts_with("unknown key") {
                let key = d.pointer.rsplit('/').next().unwrap_or("").to_owned();
                let parent = &d.pointer[..d.pointer.len() - key.len() - 1];
                d.hint = Some(match did_you_mean(&key, &candidates_for(parent, &wrapped)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        format!("allowed here: {}", candidates_for(parent, &wrapped).join(", "))
                    }
                });
            } else if d.hint.is_none() {
                d.hint = value_hint(&d.pointer);
            }
        }
        out.extend(ds);
    }
    out
}

/// Precise errors for the `server` section: pick the variant by `kind`, validate against it.
pub(super) fn server_diagnostics(instance: &Value, index: &LocationIndex) -> Vec<Diagnostic> {
    let kind = instance.get("kind").and_then(Value::as_str);
    let Some(kind) = kind else {
        return vec![
            Diagnostic::new("/server", "the server section needs a `kind`")
                .hint(format!("set `kind:` to one of: {}", SERVER_KINDS.join(", ")))
                .at(index.key("/server")),
        ];
    };
    let Some(variant) = server_variant_schema(kind) else {
        let mut d = Diagnostic::new("/server/kind", format!("unknown server kind `{kind}`"));
        let kinds: Vec<String> = SERVER_KINDS.iter().map(|s| (*s).to_owned()).collect();
        d = match did_you_mean(kind, &kinds) {
            Some(s) => d.hint(format!("did you mean `{s}`? kinds: {}", SERVER_KINDS.join(", "))),
            None => d.hint(format!("kinds: {}", SERVER_KINDS.join(", "))),
        };
        return vec![d.at(index.value("/server/kind"))];
    };
    let Ok(v) = jsonschema::validator_for(&variant) else { return Vec::new() };
    let mut out = Vec::new();
    for e in v.iter_errors(instance) {
        // Re-root the paths under /server.
        let sub = schema_diagnostic(&e, instance, index);
        for mut d in sub {
            let rel = d.pointer.clone();
            d.pointer = if rel.starts_with("/server") { rel } else { format!("/server{rel}") };
            if matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }) {
                let key = d.pointer.rsplit('/').next().unwrap_or("").to_owned();
                let fields = server_fields(kind);
                d.hint = Some(match did_you_mean(&key, &fields) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("a `{kind}` server takes: {}", fields.join(", ")),
                });
            }
            d.pos = if matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }) {
                index.key(&d.pointer)
            } else {
                index.value(&d.pointer)
            };
            out.push(d);
        }
    }
    out
}

/// Out-of-range settings of a server section: its `*_s` durations, and for `kind: mock` every
/// parameter the mock server would refuse at start-up.
pub(super) fn server_problems(server: &ServerConfig) -> Vec<(&'static str, String)> {
    let secs: Vec<(&'static str, f64)> = match server {
        ServerConfig::External { startup_timeout_s, .. } => {
            vec![("startup_timeout_s", *startup_timeout_s)]
        }
        ServerConfig::LlamaCpp { url, .. } if crate::util::url::host_port(url).is_none() => {
            return vec![(
                "url",
                format!("`{url}` has no host and port for `--host` and `--port`"),
            )];
        }
        ServerConfig::Command { startup_timeout_s, stop_grace_s, .. }
        | ServerConfig::LlamaCpp { startup_timeout_s, stop_grace_s, .. }
        | ServerConfig::Docker { startup_timeout_s, stop_grace_s, .. }
        | ServerConfig::TtInferenceServer { startup_timeout_s, stop_grace_s, .. } => {
            vec![("startup_timeout_s", *startup_timeout_s), ("stop_grace_s", *stop_grace_s)]
        }
        ServerConfig::Mock(p) => {
            return p.problems().into_iter().map(|e| (e.param(), e.to_string())).collect();
        }
        ServerConfig::Kubernetes(k) => vec![
            ("startup_timeout_s", k.startup_timeout_s),
            ("poll_interval_s", k.poll_interval_s),
            ("delete_timeout_s", k.delete_timeout_s),
        ],
    };
    secs.into_iter()
        .filter_map(|(f, v)| durations::check_seconds(v).err().map(|e| (f, e.to_string())))
        .collect()
}

pub(super) fn server_hint(field: &str) -> String {
    if field == "url" {
        "write it as `http://HOST:PORT`, e.g. `http://127.0.0.1:8080`".into()
    } else if field.ends_with("_s") {
        "give a number of seconds, at most 31536000 (one year)".into()
    } else {
        format!(
            "see `{field}` in the mock server's parameters (README, `sweeper mock-server --help`)"
        )
    }
}

#[cfg(test)]
mod embedded_tests {
    use super::*;

    /// The committed schema that validates configs is what the types generate now.
    #[test]
    fn the_embedded_schema_is_the_generated_one() {
        let embedded: Value = serde_json::from_str(EMBEDDED_SCHEMA).unwrap();
        assert!(
            embedded == raw::schema(),
            "schemas/sweeper.schema.json is stale; regenerate it with:\n    cargo run -- schema > schemas/sweeper.schema.json"
        );
        assert!(compiled_schema().is_ok());
    }
}
