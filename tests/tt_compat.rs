//! tt-inference-server's report code reads sweeper's result files as its own: every tt file
//! sweeper writes, for a concurrency sweep, a request-rate sweep, a two-parameter sweep and a
//! config that names tt's model and device, is checked against tt's rules (`common::tt_rules`:
//! its name regex, the fields its readers compute with, its devices, its collision key).

mod common;

use std::path::Path;

use common::batch::{Batch, Run, base_without};
use common::tt_rules;
use common::*;
use serde_json::{Value, json};

const MODEL_ID: &str = "id_tt-transformers_Llama-3.3-70B-Instruct_t3k";

/// The tt files of every run dir of `batch`, by run dir.
fn run_dir_files(batch: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(batch).unwrap().flatten() {
        if !e.path().is_dir() {
            continue;
        }
        out.push((e.file_name().to_string_lossy().into_owned(), tt_files(&e.path())));
    }
    out.sort();
    out
}

fn export(batch: &Path, to: &Path, extra: &[&str]) -> std::process::Output {
    sweeper().args(["export", "tt"]).arg(batch).arg("--to").arg(to).args(extra).output().unwrap()
}

/// The facts themselves agree with sweeper's: the same 19 devices, and the devices sweeper
/// accepts for names are exactly those tt's regex reads back as themselves.
#[test]
fn sweepers_device_rules_are_tts() {
    let mut ours: Vec<&str> = sweeper::tt::names::DEVICES.to_vec();
    let mut theirs: Vec<&str> = tt_rules::DEVICES.to_vec();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    let re = regex::Regex::new(tt_rules::SUMMARY_RE).unwrap();
    for d in tt_rules::DEVICES {
        let name = format!(
            "aiperf_benchmark_id_tt-transformers_M_{d}_2026-01-02_03-04-05_isl-1_osl-2_maxcon-3_n-4.json"
        );
        let c = re.captures(&name).unwrap();
        let reads_back = c.name("device").map(|m| m.as_str()) == Some(d)
            && &c["model"] == "id_tt-transformers_M";
        assert_eq!(
            reads_back,
            sweeper::tt::names::device_problem(d).is_none(),
            "{d}: tt reads it back: {reads_back}"
        );
    }
}

/// A concurrency sweep with tt's model id: each run dir holds one file named as tt names it,
/// the export folder reads cleanly (no file skipped, no device mismatch), values tabulate.
#[test]
fn concurrency_sweep_reads_as_tts_own() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = ["chat-stream", "chat-goodput", "chat-partial-errors", "chat-stream"];
    let runs: Vec<Run> = [1, 2, 4, 8]
        .iter()
        .zip(fx)
        .map(|(c, f)| Run::ok(f, vec![("concurrency", json!(c))]))
        .collect();
    let batch = Batch::new("conc").tt_model_id(MODEL_ID).write(tmp.path(), &runs);
    sweeper::report::render_batch(&batch, None).unwrap();
    for (dir, names) in run_dir_files(&batch) {
        assert_eq!(names.len(), 1, "{dir}: {names:?}");
        assert!(names[0].starts_with(&format!("aiperf_benchmark_{MODEL_ID}_")), "{}", names[0]);
        // The run dir alone reads as a tt folder too.
        tt_rules::read(&batch.join(&dir), MODEL_ID, "t3k").unwrap();
    }
    let folder = tmp.path().join("benchmarks_output");
    let out = export(&batch, &folder, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("wrote 4 tt-inference-server file(s)"), "{}", text(&out));
    let rows = tt_rules::read(&folder, MODEL_ID, "t3k").unwrap();
    assert_eq!(rows.iter().map(|r| r.max_con).collect::<Vec<_>>(), [1, 2, 4, 8]);
    assert!(rows.iter().all(|r| (r.isl, r.osl, r.n) == (64, 16, 20)), "{rows:?}");
    // Values are aiperf's: TPOT from inter_token_latency.
    let agg = read_json(&batch.join("concurrency1/profile_export_aiperf.json"));
    assert_eq!(rows[0].mean_tpot_ms, agg["inter_token_latency"]["avg"].as_f64().unwrap());
    assert_eq!(rows[0].mean_ttft_ms, agg["time_to_first_token"]["avg"].as_f64().unwrap());
    // tt's writer's 28 keys come first, in its order.
    let f = tt_rules::glob(&folder, MODEL_ID)[0].clone();
    let v: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    let keys: Vec<&str> = v.keys().map(String::as_str).take(28).collect();
    assert_eq!(keys, tt_rules::WRITER_KEYS);
    // Exporting again changes nothing.
    let again = export(&batch, &folder, &[]);
    assert!(text(&again).contains("wrote 0 tt-inference-server file(s)"), "{}", text(&again));
    assert!(text(&again).contains("(4 already there, unchanged)"), "{}", text(&again));
}

/// Regression (issue 14): request-rate runs were written as `maxcon-na`, which tt's regex
/// skips (one summary) or reads as `max_concurrency: null` and crashes sorting (the other).
/// Without a concurrency cap there is no tt file, the report says so, and the export skips it;
/// with a cap the file is named by it.
#[test]
fn request_rate_points_get_no_tt_file_unless_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let runs: Vec<Run> = [10, 20]
        .iter()
        .map(|r| Run::ok("chat-rate-constant-warmup", vec![("request_rate", json!(r))]))
        .collect();
    let batch = Batch::new("rate")
        .base(base_without(&["concurrency"]))
        .tt_model_id(MODEL_ID)
        .write(tmp.path(), &runs);
    sweeper::report::render_batch(&batch, None).unwrap();
    for (dir, names) in run_dir_files(&batch) {
        assert!(names.is_empty(), "{dir}: {names:?}");
    }
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    for r in [10, 20] {
        assert!(md.contains(&format!("`request_rate={r}`: no tt-inference-server file")), "{md}");
    }
    assert!(md.contains("set `concurrency` with `request_rate` to get a tt file"), "{md}");
    let summary = read_json(&batch.join("summary.json"));
    assert_eq!(summary["tt_skipped"].as_array().unwrap().len(), 2);
    let folder = tmp.path().join("out");
    let out = export(&batch, &folder, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no tt file for #0 `request_rate=10`"), "{}", text(&out));
    assert!(text(&out).contains("skipped 2 point(s)"), "{}", text(&out));
    assert!(tt_rules::glob(&folder, MODEL_ID).is_empty());
    for f in all_files(&batch) {
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!n.contains("-na"), "a name with `na`: {n}");
    }

    // With a concurrency cap, each rate point has a tt file... and two rates at one cap are
    // the same point for tt: the export says so.
    let capped = Batch::new("capped").tt_model_id(MODEL_ID).write(tmp.path(), &runs);
    sweeper::report::render_batch(&capped, None).unwrap();
    for (dir, names) in run_dir_files(&capped) {
        assert_eq!(names.len(), 1, "{dir}: {names:?}");
        assert!(names[0].contains("_maxcon-2_"), "{}", names[0]);
    }
    let out = export(&capped, &tmp.path().join("out2"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--split-by request_rate"), "{}", text(&out));
}

/// Regression (issue 14): a sweep of concurrency x random_seed gives 2 files per tt key, and tt
/// keeps one. The export refuses, names the colliding points and the parameter that tells them
/// apart, and writes nothing; `--split-by random_seed` writes one folder per seed, each read
/// cleanly by tt's rules.
#[test]
fn two_parameter_sweep_collisions_are_found_and_split() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for c in [1, 2] {
        for seed in [1, 2] {
            runs.push(Run::ok(
                "chat-stream",
                vec![("concurrency", json!(c)), ("random_seed", json!(seed))],
            ));
        }
    }
    let batch = Batch::new("two").tt_model_id(MODEL_ID).write(tmp.path(), &runs);
    let folder = tmp.path().join("benchmarks_output");
    let out = export(&batch, &folder, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("4 points would collide in tt-inference-server's report"), "{t}");
    assert!(
        t.contains(
            "isl-64_osl-16_maxcon-1_n-20: #0 concurrency=1 random_seed=1, #1 concurrency=1 random_seed=2"
        ),
        "{t}"
    );
    assert!(t.contains("they differ in `random_seed`: add --split-by random_seed"), "{t}");
    assert!(!folder.exists() || tt_rules::glob(&folder, MODEL_ID).is_empty(), "nothing written");

    let out = export(&batch, &folder, &["--split-by", "random_seed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for seed in [1, 2] {
        let sub = folder.join(format!("random_seed={seed}"));
        let rows = tt_rules::read(&sub, MODEL_ID, "t3k").unwrap();
        assert_eq!(rows.iter().map(|r| r.max_con).collect::<Vec<_>>(), [1, 2]);
    }
    // Unknown split keys are named.
    let out = export(&batch, &folder, &["--split-by", "seed"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("split by one of the swept parameters: concurrency, random_seed"));
}

/// Without a `tt` section the export takes tt's model id from flags, checked by tt's rules; with
/// neither it says what to pass.
#[test]
fn export_model_id_from_flags_and_bad_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = vec![Run::ok("chat-stream", vec![("concurrency", json!(2))])];
    let batch = Batch::new("plain").write(tmp.path(), &runs);
    let folder = tmp.path().join("out");
    let out = export(&batch, &folder, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("its config has no `tt` section"), "{}", text(&out));
    assert!(text(&out).contains("pass --impl, --model and --device"), "{}", text(&out));

    let flags = ["--impl", "tt-transformers", "--model", "Llama-3.1-8B-Instruct", "--device"];
    let out = export(&batch, &folder, &[&flags[..], &["n150"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    tt_rules::read(&folder, "id_tt-transformers_Llama-3.1-8B-Instruct_n150", "n150").unwrap();

    for (device, says) in [
        ("galaxy_t3k", "cannot read the device `galaxy_t3k` back"),
        ("T3K", "lowercase: `t3k`"),
        ("h100", "not one of tt-inference-server's devices"),
    ] {
        let out = export(&batch, &folder, &[&flags[..], &[device]].concat());
        assert_eq!(out.status.code(), Some(2), "{device}");
        assert!(text(&out).contains(says), "{device}: {}", text(&out));
    }
    // A file in the way that tt wrote is never overwritten.
    let ours = tt_rules::glob(&folder, "id_tt-transformers_Llama-3.1-8B-Instruct_n150");
    std::fs::write(&ours[0], "{\"backend\": \"aiperf\"}").unwrap();
    let out = export(&batch, &folder, &[&flags[..], &["n150"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("was not written by sweeper; not overwriting it"));
}

/// The `tt` section: written, defaulted from the server and targets sections, and wrong.
#[test]
fn tt_section_in_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let validate = |body: &str| {
        let f = common::config::write(
            tmp.path(),
            "c.yaml",
            &format!(
                "base_config:\n  model: meta-llama/Llama-3.3-70B-Instruct\n  url: http://127.0.0.1:1\n  concurrency: 1\n{body}"
            ),
        );
        sweeper().arg("validate").arg(&f).output().unwrap()
    };
    // The model defaults to base_config.model's basename, the device comes from targets.
    let ok = validate("tt:\n  impl: tt-transformers\ntargets:\n  device: t3k\n");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let dry = sweeper().arg("-c").arg(tmp.path().join("c.yaml")).arg("--dry-run").output().unwrap();
    assert!(
        text(&dry).contains(
            "tt-inference-server files: aiperf_benchmark_id_tt-transformers_Llama-3.3-70B-Instruct_t3k_<start>_"
        ),
        "{}",
        text(&dry)
    );
    for (body, line, says) in [
        ("tt:\n  impl: tt-transformers\n", "5:1", "tt's device is not set and cannot be inferred"),
        ("tt:\n  impl: tt-transformers\n  device: galaxy_t3k\n", "7:11", "is not one of"),
        (
            "tt:\n  impl: tt-transformers\ntargets:\n  device: galaxy_t3k\n",
            "8:11",
            "cannot read the device `galaxy_t3k` back",
        ),
        ("tt:\n  impl: tt transformers\n  device: t3k\n", "6:9", "does not match"),
        ("tt:\n  device: t3k\n", "5:1", "impl"),
    ] {
        let out = validate(body);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{body}\n{t}");
        assert!(t.contains(&format!("c.yaml:{line}")), "{body}: want line {line}\n{t}");
        assert!(t.contains(says), "{body}: want `{says}`\n{t}");
    }
}
