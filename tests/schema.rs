//! The committed JSON Schema is current, and every example config is valid: by the binary and
//! by the committed schema (through the `jsonschema` crate, after YAML -> JSON).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sweeper::config::options::canonical;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("aiperf_configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(root().join("schemas/sweeper.schema.json")).unwrap();
    let generated = sweeper::config::raw::schema_text();
    assert!(
        committed == generated,
        "schemas/sweeper.schema.json is stale; regenerate it with:\n    cargo run -- schema > schemas/sweeper.schema.json"
    );
}

#[test]
fn example_configs_pass_the_binary() {
    for f in examples() {
        let out =
            Command::new(env!("CARGO_BIN_EXE_sweeper")).arg("validate").arg(&f).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The loader's placeholder rule, applied before the schema check: a base_config key that every
/// combination overrides (a sweep key, or a key of every scenario) is not judged by the schema
/// (`concurrency: 0  # Overridden by sweep`).
fn drop_placeholders(doc: &mut Value) {
    let mut overridden: BTreeSet<String> = BTreeSet::new();
    if let Some(s) = doc.get("sweeps").and_then(Value::as_object) {
        overridden.extend(s.keys().map(|k| canonical(k)));
    }
    if let Some(list) = doc.get("scenarios").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        let sets: Vec<BTreeSet<String>> = list
            .iter()
            .map(|s| {
                s.as_object().map(|m| m.keys().map(|k| canonical(k)).collect()).unwrap_or_default()
            })
            .collect();
        let common = sets.iter().skip(1).fold(sets[0].clone(), |acc, s| &acc & s);
        overridden.extend(common);
    }
    if let Some(base) = doc.get_mut("base_config").and_then(Value::as_object_mut) {
        base.retain(|k, _| !overridden.contains(&canonical(k)));
    }
}

#[test]
fn example_configs_validate_against_the_committed_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/sweeper.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the committed schema compiles");
    let mut placeholders = 0;
    for f in examples() {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut doc: Value = serde_saphyr::from_str(&text).unwrap();
        let before = doc.clone();
        drop_placeholders(&mut doc);
        if doc != before {
            placeholders += 1;
            // Without the rule the placeholder is (rightly) out of range for the schema.
            assert!(
                !validator.is_valid(&before),
                "{}: expected the placeholder to fail",
                f.display()
            );
        }
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path().as_str()))
            .collect();
        assert!(errors.is_empty(), "{}:\n{}", f.display(), errors.join("\n"));
    }
    // sweep_concurrency.yaml has `concurrency: 0  # Overridden by sweep`.
    assert!(placeholders >= 1);
}
