//! The schema a config check compiles: the generated schema cut to what one config reaches,
//! read from the schema's JSON text without parsing the rest of it.
//!
//! The whole schema lists ~300 aiperf options four times over (base_config, sweeps, scenarios,
//! exclude). Parsing it (400 KB) and compiling it, with its check against the 2020-12
//! meta-schema, took ~6 ms of sweeper's start-up for a config that names a dozen options; the
//! cut of such a config is a few KB.

use std::sync::OnceLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::raw;
use super::schema_check::{EMBEDDED_SCHEMA, SchemaError};

/// The validator of `doc`: [`reachable_schema`], compiled. It reports exactly what the whole
/// schema's validator reports for `doc`.
pub(super) fn validator_for(doc: &Value) -> Result<jsonschema::Validator, SchemaError> {
    jsonschema::validator_for(&reachable_schema(doc))
        .map_err(|e| SchemaError::DoesNotCompile { message: e.to_string() })
}

/// The schema with each `properties` list cut to the keys the instances at that place have,
/// descending through `properties` and `items` (copied whole below anything else: `$ref`,
/// `oneOf`, ...). The same errors for `doc` as the whole schema: a property `doc` lacks
/// constrains nothing, every key `doc` has keeps its schema, and `additionalProperties: false`
/// still refuses exactly the keys outside the whole list and its patterns. Of `$defs`, only
/// the definitions the cut refers to (directly or through each other); no `description` (an
/// annotation: it reports nothing).
pub(super) fn reachable_schema(doc: &Value) -> Value {
    let mut out = Map::new();
    for (keyword, sub) in top() {
        match keyword.as_str() {
            "description" | "$defs" => {}
            "properties" => {
                out.insert(keyword.clone(), properties(sub, &[doc]));
            }
            _ => {
                out.insert(keyword.clone(), cut(sub, &[doc]));
            }
        }
    }
    let mut wanted = Vec::new();
    refs_in(&Value::Object(out.clone()), &mut wanted);
    let mut kept = Map::new();
    while let Some(name) = wanted.pop() {
        if kept.contains_key(&name) {
            continue;
        }
        let Some(def) = definition(&name) else {
            // A reference of another form: every definition, as in the whole schema.
            kept = defs().iter().map(|(k, v)| (k.clone(), parse(v))).collect();
            break;
        };
        refs_in(def, &mut wanted);
        kept.insert(name, def.clone());
    }
    out.insert("$defs".to_owned(), Value::Object(kept));
    Value::Object(out)
}

/// The schema's definition `name` (`$defs`), parsed once per process (the server's is read by
/// every check of a swept `server.*` key and every diagnostic of the server section).
pub(super) fn definition(name: &str) -> Option<&'static Value> {
    static PARSED: OnceLock<Vec<OnceLock<Value>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| defs().iter().map(|_| OnceLock::new()).collect());
    let i = defs().iter().position(|(k, _)| k == name)?;
    Some(parsed[i].get_or_init(|| parse(defs()[i].1)))
}

/// The schema's top-level keywords, each as its JSON text: the committed copy's, or (when that
/// does not parse: a bug the tests catch) the generated schema's.
fn top() -> &'static [(String, &'static RawValue)] {
    static TOP: OnceLock<Vec<(String, &'static RawValue)>> = OnceLock::new();
    TOP.get_or_init(|| {
        entries(EMBEDDED_SCHEMA).unwrap_or_else(|| {
            let text: &'static str =
                Box::leak(serde_json::to_string(&raw::schema()).unwrap_or_default().into());
            entries(text).unwrap_or_default()
        })
    })
}

fn defs() -> &'static [(String, &'static RawValue)] {
    static DEFS: OnceLock<Vec<(String, &'static RawValue)>> = OnceLock::new();
    DEFS.get_or_init(|| {
        top()
            .iter()
            .find(|(k, _)| k == "$defs")
            .and_then(|(_, v)| entries(v.get()))
            .unwrap_or_default()
    })
}

fn cut(schema: &RawValue, instances: &[&Value]) -> Value {
    let Some(obj) = entries(schema.get()) else { return parse(schema) };
    let mut out = Map::with_capacity(obj.len());
    for (keyword, sub) in obj {
        let kept = match keyword.as_str() {
            "description" => continue,
            "properties" => properties(sub, instances),
            "items" => {
                let elements: Vec<&Value> =
                    instances.iter().filter_map(|i| i.as_array()).flatten().collect();
                cut(sub, &elements)
            }
            _ => parse(sub),
        };
        out.insert(keyword, kept);
    }
    Value::Object(out)
}

/// A `properties` list with only the names some instance has, each cut for those instances.
fn properties(props: &RawValue, instances: &[&Value]) -> Value {
    let Some(props) = entries(props.get()) else { return parse(props) };
    let mut keep = Map::new();
    for (name, prop) in props {
        let at: Vec<&Value> = instances.iter().filter_map(|i| i.get(&name)).collect();
        if !at.is_empty() {
            let kept = cut(prop, &at);
            keep.insert(name, kept);
        }
    }
    Value::Object(keep)
}

/// A JSON text as a value (texts here are parts of a document that parsed).
fn parse(v: &RawValue) -> Value {
    serde_json::from_str(v.get()).unwrap_or(Value::Null)
}

/// An object's entries in order, each value as its JSON text; `None` when `text` is not an
/// object.
fn entries(text: &str) -> Option<Vec<(String, &RawValue)>> {
    struct Entries<'a>(Vec<(String, &'a RawValue)>);
    impl<'de> serde::Deserialize<'de> for Entries<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entries<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries<'de>, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = m.next_entry::<String, &'de RawValue>()? {
                        out.push(kv);
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Entries>(text).ok().map(|e| e.0)
}

/// The names of the `#/$defs/NAME` references in `v`.
fn refs_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(name) =
                m.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
            {
                out.push(name.to_owned());
            }
            m.values().for_each(|x| refs_in(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs_in(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema_check::{compiled_schema, schema_value};
    use super::*;

    /// Every error of a validator, as (instance path, schema path, message), sorted.
    fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = v
            .iter_errors(doc)
            .map(|e| {
                (e.instance_path().as_str().to_owned(), e.schema_path().to_string(), e.to_string())
            })
            .collect();
        out.sort();
        out
    }

    /// The cut schema reports for a config exactly what the whole schema reports: every config
    /// of the repository (examples, valid and invalid fixtures, NeMo configs) and hostile
    /// documents at each level (unknown keys, wrong types, pattern keys, sections of the wrong
    /// kind); the cut is a fraction of the whole.
    #[test]
    fn the_cut_schema_reports_what_the_whole_schema_reports() {
        let whole = compiled_schema().unwrap();
        let mut docs: Vec<Value> = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in [
            "aiperf_configs",
            "aiperf_configs/k8s",
            "tests/fixtures/invalid",
            "tests/fixtures/valid",
            "tests/fixtures/nemo-configs",
        ] {
            for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if e.path().extension().is_some_and(|x| x == "yaml")
                    && let Ok(v) = serde_saphyr::from_str::<Value>(&text)
                {
                    docs.push(v);
                }
            }
        }
        assert!(docs.len() > 80, "{} configs read", docs.len());
        docs.extend([
            serde_json::json!({}),
            serde_json::json!([1, 2]),
            serde_json::json!("text"),
            serde_json::json!({"base_config": [1], "sweeps": "x", "scenarios": {}, "exclude": 3}),
            serde_json::json!({"batch_name": 3, "bogus": 1, "base_config": {"model": "m",
                "url": "http://h:1", "concurency": 2, "streaming": "yes", "endpoint_type": "chatt"}}),
            serde_json::json!({"base_config": {"model": "m"}, "sweeps": {"concurrency": [],
                "isl": [1, "x"], "server.port": [1], "server.BAD": [1], "cost.gpus": [0],
                "cost.nope": [1], "nope": [1]}}),
            serde_json::json!({"base_config": {"model": "m"}, "scenarios": [{"isl": 1}, 3,
                {"osl": "x", "server.vars.A": 1, "typo": 1}, {}], "exclude": [{"nope": 1},
                {"concurrency": {}}]}),
            serde_json::json!({"base_config": {}, "server": {"kind": "mock", "typo": 1},
                "repeats": {"count": -1}, "cost": {"usd_per_hour": "x"}, "max_combinations": 0,
                "aiperf": {"executable": 1}, "targets": {"points": [{}]}, "ab": {}, "tt": 1}),
        ]);
        let whole_size = serde_json::to_string(schema_value()).unwrap().len();
        for doc in &docs {
            let cut = reachable_schema(doc);
            let part = jsonschema::validator_for(&cut).unwrap();
            assert_eq!(errors(&part, doc), errors(&whole, doc), "config: {doc}");
            let size = serde_json::to_string(&cut).unwrap().len();
            assert!(size < whole_size, "{size} of {whole_size}");
        }
        let quickstart = serde_saphyr::from_str::<Value>(
            &std::fs::read_to_string(root.join("aiperf_configs/quickstart.yaml")).unwrap(),
        )
        .unwrap();
        let size = serde_json::to_string(&reachable_schema(&quickstart)).unwrap().len();
        assert!(size * 10 < whole_size, "quickstart's cut: {size} of {whole_size}");
    }

    /// A definition read alone is the whole schema's.
    #[test]
    fn a_definition_is_the_whole_schemas() {
        for name in ["ServerConfig", "RepeatsSpec", "CostConfig"] {
            assert_eq!(definition(name), schema_value().pointer(&format!("/$defs/{name}")));
        }
        assert_eq!(definition("Nope"), None);
    }
}
