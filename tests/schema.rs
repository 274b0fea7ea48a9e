//! The committed JSON Schema is current, and every config sweeper accepts is valid under that
//! schema alone (Rust's `jsonschema` crate and Python's `jsonschema`, as editors check it).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{nemo_datasets, python_with, root, sweeper, text, yaml_files};
use serde_json::Value;

fn examples() -> Vec<PathBuf> {
    let v = yaml_files(&root().join("aiperf_configs"));
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
        let out = sweeper().arg("validate").arg(&f).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every config sweeper accepts: the examples, the valid corpus, the ten real NeMo Guardrails
/// configs, and a NeMo-shaped config with a placeholder (`concurrency: 0  # Overridden by sweep`).
fn accepted_configs() -> Vec<(String, String)> {
    let mut files = examples();
    for dir in ["tests/fixtures/valid", "tests/fixtures/nemo-configs"] {
        files.extend(yaml_files(&root().join(dir)));
    }
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect();
    out.push((
        "nemo-shaped placeholder".into(),
        "batch_name: nemo\noutput_base_dir: aiperf_results\nbase_config:\n  model: meta/llama-3.3-70b-instruct\n  url: http://localhost:9000\n  endpoint: /v1/chat/completions\n  endpoint_type: chat\n  health_check_endpoint: /v1/rails/configs\n  warmup_request_count: 20\n  benchmark_duration: 60\n  concurrency: 0  # Overridden by sweep\n  request_rate_mode: constant\n  prompt_input_tokens_mean: 0  # Overridden by sweep\nsweeps:\n  concurrency: [4, 8, 16, 32, 64, 128, 256]\n  prompt_input_tokens_mean: [100, 1000]\n".into(),
    ));
    out
}

/// Configs the schema alone must still reject (unknown keys, types, enum values).
fn schema_level_invalid() -> Vec<PathBuf> {
    [
        "unknown_top_level_key",
        "unknown_base_config_key",
        "unknown_aiperf_key",
        "type_string_for_int",
        "type_list_for_bool",
        "bad_endpoint_type",
        "bad_request_rate_mode",
        "sweep_not_a_list",
        "empty_sweep",
        "negative_concurrency_in_sweep",
    ]
    .iter()
    .map(|n| root().join(format!("tests/fixtures/invalid/{n}.yaml")))
    .collect()
}

/// Regression (issue 13): editors validate with the committed schema alone, without sweeper's
/// semantic checks, and flagged `concurrency: 0  # Overridden by sweep` (in our own
/// sweep_concurrency.yaml and 8 of the 10 NeMo configs) as invalid. Every config sweeper accepts
/// is valid under the schema alone (the `jsonschema` crate, no sweeper code), and the schema
/// still rejects what it can.
#[test]
fn every_accepted_config_is_valid_under_the_committed_schema_alone() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/sweeper.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the committed schema compiles");
    let tmp = tempfile::tempdir().unwrap();
    nemo_datasets(tmp.path());
    // The examples name files relative to where sweeper starts (the repo root), as the README
    // runs them: the kubernetes example's manifest template is rendered when it is validated.
    common::copy_dir(&root().join("aiperf_configs/k8s"), &tmp.path().join("aiperf_configs/k8s"));
    for (name, text) in accepted_configs() {
        // sweeper accepts it (the NeMo datasets resolve in the temp dir)...
        let f = common::config::write(tmp.path(), "c.yaml", &text);
        let out = sweeper().arg("validate").arg(&f).current_dir(tmp.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        // ... and so does the schema, on its own.
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path().as_str()))
            .collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
    for f in schema_level_invalid() {
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert!(!validator.is_valid(&doc), "{}: the schema alone should reject it", f.display());
    }
}

/// The same check with a second, independent validator: Python's `jsonschema` (Draft 2020-12, as
/// editors' YAML language servers validate), run by the managed venv's Python with the package in
/// `target/py-jsonschema` (installed there if missing), reading the YAML with PyYAML.
#[test]
fn python_jsonschema_agrees() {
    // Python's jsonschema goes into its own folder under target/, not into the managed venv,
    // so this check never changes the environment aiperf runs in.
    let (python, site) = python_with("jsonschema, yaml", "jsonschema", "py-jsonschema");
    let tmp = tempfile::tempdir().unwrap();
    let mut good = Vec::new();
    for (i, (name, text)) in accepted_configs().into_iter().enumerate() {
        good.push((name, common::config::write(tmp.path(), &format!("good{i}.yaml"), &text)));
    }
    let script = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    kind, _, f = path.partition("=")
    errors = sorted(e.message for e in v.iter_errors(yaml.safe_load(open(f))))
    if (kind == "good") != (not errors):
        bad += 1
        print(f"{kind} {f}: {errors[:3]}")
print(f"checked {len(sys.argv) - 2}")
sys.exit(1 if bad else 0)
"#;
    let mut cmd = Command::new(&python);
    cmd.env("PYTHONPATH", &site);
    cmd.arg("-c").arg(script).arg(root().join("schemas/sweeper.schema.json"));
    for (_, f) in &good {
        cmd.arg(format!("good={}", f.display()));
    }
    for f in schema_level_invalid() {
        cmd.arg(format!("bad={}", f.display()));
    }
    let out = cmd.output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("checked {}", good.len() + schema_level_invalid().len())), "{t}");
}
