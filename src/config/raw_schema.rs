//! The JSON Schema of the config file: the hand-written parts of the generated schema (each
//! aiperf option's value, base_config's keys, `sweeps`, `scenarios`, `exclude`, target points)
//! and the committed `schemas/sweeper.schema.json` text.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use super::raw::{RawConfig, TargetPoint};
use crate::model::aiperf_options::OPTIONS;
use crate::model::options::OptKind;

impl JsonSchema for TargetPoint {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TargetPoint".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut props = Map::new();
        props.insert(
            "match".into(),
            json!({"description": "Config keys and values a combination must have (`{isl: 128, osl: 128, concurrency: 1}`); empty matches every combination.",
                   "type": "object", "additionalProperties": true}),
        );
        for key in crate::model::metrics::target_keys() {
            let desc = match crate::model::metrics::Metric::by_target_key(key) {
                Some(m) => format!(
                    "{} target, {} ({}is better): {}.",
                    m.def().display,
                    m.def().unit,
                    if crate::model::metrics::target_lower_is_better(key) == Some(true) {
                        "lower "
                    } else {
                        "higher "
                    },
                    m.def().about
                ),
                None if key == "tput_decode" => {
                    "Decode tokens/s, = tput_user x concurrency (higher is better).".into()
                }
                None => {
                    "Prefill tokens/s, = ISL x concurrency / TTFT in s (higher is better).".into()
                }
            };
            props.insert(
                key.into(),
                json!({"description": desc, "type": ["number", "null"], "minimum": 0.0}),
            );
        }
        props.insert(
            "tolerance".into(),
            json!({"description": "Relative tolerance for this point; default: `targets.tolerance`.",
                   "type": ["number", "null"], "minimum": 0.0}),
        );
        json_schema!({
            "description": "Targets for the combinations that match `match`.",
            "type": "object",
            "properties": props,
            "additionalProperties": false
        })
    }
}

// ---- sweeper's own keys inside base_config -------------------------------------------------

/// Keys of base_config that sweeper handles itself (not aiperf flags).
pub const SWEEPER_KEYS: &[(&str, &str)] = &[
    (
        "api_key_env_var",
        "Name of the environment variable holding the API key; passed as `--api-key`, shown as `***`.",
    ),
    (
        "health_check_endpoint",
        "Path sweeper GETs to check the server is up (NeMo runner key). Default `/v1/models`.",
    ),
    ("extra_args", "Arguments appended verbatim to the aiperf command line."),
];

/// Keys sweeper owns or forbids, with the reason shown when a config sets them.
pub const FORBIDDEN_KEYS: &[(&str, &str)] = &[
    (
        "api_key",
        "an API key must not be written in a config file; put it in an environment variable and set `api_key_env_var: THAT_VARIABLE`",
    ),
    (
        "output_artifact_dir",
        "sweeper sets aiperf's artifact dir to each combination's directory; set `output_base_dir` instead",
    ),
    (
        "artifact_dir",
        "sweeper sets aiperf's artifact dir to each combination's directory; set `output_base_dir` instead",
    ),
    ("ui_type", "sweeper sets `--ui` itself (`none`, or `simple` with --verbose)"),
    ("ui", "sweeper sets `--ui` itself (`none`, or `simple` with --verbose)"),
];

fn sweeper_key_schema(key: &str) -> Value {
    match key {
        "api_key_env_var" => {
            json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"})
        }
        "health_check_endpoint" => json!({"type": "string", "pattern": "^/"}),
        _ => json!({"type": "array", "items": {"type": "string"}}),
    }
}

/// The largest magnitude of an integer aiperf option: 2^53 - 1, the largest integer a YAML float
/// (`1e15`) holds exactly. Beyond it a value written as a float reaches aiperf in exponent
/// notation (`1e+30`), which aiperf rejects at run time; the schema rejects it at validation.
pub const MAX_OPTION_INT: i64 = (1 << 53) - 1;

/// The JSON Schema of one aiperf option's value.
pub fn option_value_schema(kind: OptKind) -> Value {
    match kind {
        OptKind::Bool => json!({"type": "boolean"}),
        OptKind::Int { min } if min == i64::MIN => {
            json!({"type": "integer", "minimum": -MAX_OPTION_INT, "maximum": MAX_OPTION_INT})
        }
        OptKind::Int { min } => {
            json!({"type": "integer", "minimum": min, "maximum": MAX_OPTION_INT})
        }
        OptKind::Number { min, .. } if min == f64::MIN => json!({"type": "number"}),
        OptKind::Number { min, exclusive: true } => {
            json!({"type": "number", "exclusiveMinimum": min})
        }
        OptKind::Number { min, exclusive: false } => json!({"type": "number", "minimum": min}),
        OptKind::Str => json!({"type": "string"}),
        OptKind::Enum(choices) => {
            let mut all: Vec<String> = Vec::new();
            for c in choices {
                for v in [c.to_string(), c.replace('-', "_")] {
                    if !all.contains(&v) {
                        all.push(v);
                    }
                }
            }
            json!({"type": "string", "enum": all})
        }
        OptKind::List => json!({
            "type": ["string", "array"],
            "items": {"type": ["string", "number", "boolean"]},
            "minItems": 1
        }),
        OptKind::KeyValues => json!({
            "type": ["array", "object"],
            "items": {"type": "string", "pattern": "^[^:]+:"},
            "additionalProperties": {"type": ["string", "number", "boolean"]}
        }),
        OptKind::Goodput => json!({
            "type": ["string", "object"],
            "pattern": "^\\s*[a-z_]+:[0-9.]+(\\s+[a-z_]+:[0-9.]+)*\\s*$",
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0}
        }),
        OptKind::Scalar => json!({"type": ["number", "string"]}),
    }
}

/// Schema of every key base_config may hold, by key. `minimums`: keep each option's lower bound
/// (for sweep values and scenarios, which are always used). base_config's values are judged
/// per merged combination instead (`plan`): a placeholder such as `concurrency: 0  # Overridden by
/// sweep` is valid there, and an editor validating with this schema alone must agree.
pub fn base_config_properties(minimums: bool) -> Map<String, Value> {
    let mut props = Map::new();
    for o in OPTIONS {
        let mut s = option_value_schema(o.kind);
        if !minimums && let Some(obj) = s.as_object_mut() {
            obj.remove("minimum");
            obj.remove("exclusiveMinimum");
            if let Some(Value::Object(ap)) = obj.get_mut("additionalProperties") {
                ap.remove("exclusiveMinimum");
            }
        }
        for (i, f) in o.flags.iter().enumerate() {
            let key = f.replace('-', "_");
            if FORBIDDEN_KEYS.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let alias = if i == 0 {
                String::new()
            } else {
                format!(" Alias of `{}`.", o.flags[0].replace('-', "_"))
            };
            s["description"] = json!(format!("{} (aiperf `--{f}`).{alias}", o.help));
            props.insert(key, s.clone());
        }
    }
    for (k, doc) in SWEEPER_KEYS {
        let mut s = sweeper_key_schema(k);
        s["description"] = json!(doc);
        props.insert((*k).to_owned(), s);
    }
    props
}

const SERVER_KEY_PATTERN: &str = "^server\\.([a-z_]+|vars\\.[A-Za-z0-9_]+)$";

pub(super) fn base_config_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "properties": base_config_properties(false),
        "additionalProperties": false
    })
}

fn partial_schema() -> Value {
    json!({
        "type": "object",
        "properties": base_config_properties(true),
        "patternProperties": { SERVER_KEY_PATTERN: {"type": ["string", "number", "boolean"]} },
        "additionalProperties": false
    })
}

pub(super) fn sweeps_schema(_: &mut SchemaGenerator) -> Schema {
    let mut props = Map::new();
    for (k, v) in base_config_properties(true) {
        let desc = v.get("description").cloned().unwrap_or(Value::Null);
        let mut item = v;
        if let Some(o) = item.as_object_mut() {
            o.remove("description");
        }
        props
            .insert(k, json!({"type": "array", "minItems": 1, "items": item, "description": desc}));
    }
    json_schema!({
        "type": "object",
        "properties": props,
        "patternProperties": {
            "^cost\\.(usd_per_hour|usd_per_gpu_hour|gpus)$": {
                "type": "array", "minItems": 1,
                "items": {"type": "number", "exclusiveMinimum": 0},
                "description": "Sweep a field of the `cost` section (compare instance types)."
            },
            SERVER_KEY_PATTERN: {
                "type": "array", "minItems": 1,
                "items": {"type": ["string", "number", "boolean"]},
                "description": "Sweep a field of the `server` section: one server per value."
            }
        },
        "additionalProperties": false
    })
}

pub(super) fn scenarios_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": partial_schema()})
}

pub(super) fn exclude_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": partial_schema()})
}

/// The schema of the config file, as committed in `schemas/sweeper.schema.json`.
pub fn schema() -> Value {
    let mut root = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value();
    root["$id"] = json!("https://github.com/sweeper-bench/sweeper/schemas/sweeper.schema.json");
    root
}

/// The schema as pretty JSON with a trailing newline (the committed file's exact bytes).
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}
