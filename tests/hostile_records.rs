//! Batch records read by `report`, `compare`, `merge` and `export`, tampered with as a hostile
//! user would: a manifest naming a directory outside the batch, a run or shard folder that is a
//! symlink out of it, a renamed shard folder, a failed run with a valid export. Every reader
//! refuses what `--resume` refuses (exit 2), nothing is written through a symlink, and a run
//! that did not succeed never gets a tt-inference-server file.

mod common;

use std::path::Path;

use common::batch::{Batch, Run, shard_dir};
use common::*;
use serde_json::json;
use sweeper::records::RunStatus;

/// A two-run batch (with a tt model id, so reports write tt files) under `root`.
fn two_runs(root: &Path, first: RunStatus) -> std::path::PathBuf {
    Batch::new("h").tt_model_id("id_tt-transformers_Llama-3.1-8B-Instruct_n150").write(
        root,
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))])
                .with_status(first, (first == RunStatus::Failed).then_some("aiperf exited 1")),
            Run::ok("chat-stream", vec![("concurrency", json!(4))]),
        ],
    )
}

/// `sweeper <args> <batch>`'s exit code and output.
fn on(batch: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = sweeper().args(args).arg(batch).output().unwrap();
    (out.status.code(), text(&out))
}

#[test]
fn every_reader_refuses_a_manifest_pointing_out_of_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let b = two_runs(tmp.path(), RunStatus::Succeeded);
    assert_eq!(on(&b, &["report"]).0, Some(0));
    let path = b.join("batch_manifest.json");
    let mut m = read_json(&path);
    m["runs"][0]["dir"] = json!("../../../../../../etc");
    std::fs::write(&path, m.to_string()).unwrap();
    for args in [&["report"][..], &["export", "tt", "--to", "x"]] {
        let (code, t) = on(&b, args);
        assert_eq!(code, Some(2), "{args:?}: {t}");
        assert!(t.contains("not a plain path inside the batch"), "{args:?}: {t}");
        assert!(t.contains("hint:"), "{t}");
    }
    let out = sweeper().arg("compare").arg(&b).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // The plan's directory moved instead: the manifest no longer matches it.
    m["runs"][0]["dir"] = json!("elsewhere");
    std::fs::write(&path, m.to_string()).unwrap();
    let (code, t) = on(&b, &["report"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("its manifest does not match its plan.json"), "{t}");
}

#[test]
fn a_symlinked_run_folder_is_refused_and_nothing_is_written_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let b = two_runs(tmp.path(), RunStatus::Succeeded);
    let run = b.join("concurrency2");
    let outside = tmp.path().join("outside");
    std::fs::rename(&run, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &run).unwrap();
    let (code, t) = on(&b, &["report"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("is a symlink"), "{t}");
    assert!(tt_files(&outside).is_empty(), "a tt file was written through the symlink");
}

#[test]
fn a_run_that_did_not_succeed_gets_no_tt_file_and_loses_an_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    // First judged a success: its tt file is written.
    let b = two_runs(tmp.path(), RunStatus::Succeeded);
    assert_eq!(on(&b, &["report"]).0, Some(0));
    assert_eq!(tt_files(&b.join("concurrency2")).len(), 1);
    // Then recorded failed (aiperf exited 1 after writing a valid export): the re-render removes
    // the file, and `export tt` leaves the run out, saying why.
    let b = two_runs(tmp.path(), RunStatus::Failed);
    on(&b, &["report"]);
    assert!(tt_files(&b.join("concurrency2")).is_empty(), "{:?}", tt_files(&b));
    assert_eq!(tt_files(&b.join("concurrency4")).len(), 1);
    let to = tmp.path().join("tt");
    let out = sweeper().args(["export", "tt"]).arg(&b).arg("--to").arg(&to).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(tt_files(&to).len(), 1, "{t}");
    assert!(t.contains("#0") && t.contains("the run did not succeed (failed)"), "{t}");
}

#[test]
fn merge_refuses_a_renamed_or_symlinked_shard_folder() {
    let tmp = tempfile::tempdir().unwrap();
    shard_dir(tmp.path(), "A", 0, "aaaa");
    let s1 = shard_dir(tmp.path(), "A", 1, "aaaa");
    // shards/1 renamed shards/2: the manifest would point into a folder that is not there.
    let renamed = tmp.path().join("b/A/shards/2");
    std::fs::rename(&s1, &renamed).unwrap();
    let (code, t) = on(&tmp.path().join("b/A"), &["merge", "--partial"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("holds shard 1, but its folder is named `2`"), "{t}");
    assert!(!tmp.path().join("b/A/plan.json").exists(), "nothing merged");
    // A shard folder that is a symlink to one outside the batch.
    let outside = tmp.path().join("elsewhere");
    std::fs::rename(&renamed, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &s1).unwrap();
    let (code, t) = on(&tmp.path().join("b/A"), &["merge", "--partial"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("is a symlink"), "{t}");
    // A shard whose manifest names a directory out of it.
    std::fs::remove_file(&s1).unwrap();
    let s1 = shard_dir(tmp.path(), "A", 1, "aaaa");
    let path = s1.join("batch_manifest.json");
    let mut m = read_json(&path);
    m["runs"][0]["dir"] = json!("../../../../etc");
    std::fs::write(&path, m.to_string()).unwrap();
    let (code, t) = on(&tmp.path().join("b/A"), &["merge", "--partial"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("not a plain path inside the batch"), "{t}");
}

#[test]
fn exports_without_figures_are_not_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, export) in [("empty", "{}"), ("abc", r#"{"request_count": {"avg": "abc"}}"#)] {
        let b = Batch::new(name)
            .write(tmp.path(), &[Run::ok("chat-stream", vec![("concurrency", json!(2))])]);
        std::fs::write(b.join("concurrency2/profile_export_aiperf.json"), export).unwrap();
        let (_, t) = on(&b, &["report"]);
        let csv = std::fs::read_to_string(b.join("summary.csv")).unwrap();
        assert!(
            csv.contains("failed") && csv.contains("holds no request count"),
            "{name}: {csv}\n{t}"
        );
    }
}

#[test]
fn a_partial_merge_keeps_why_a_shard_did_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    shard_dir(tmp.path(), "A", 0, "aaaa");
    let (code, t) = on(&tmp.path().join("b/A"), &["merge", "--partial"]);
    assert_eq!(code, Some(1), "{t}");
    let csv = std::fs::read_to_string(tmp.path().join("b/A/summary.csv")).unwrap();
    assert!(csv.contains("not run: shard 1 is missing"), "{csv}");
    let md = std::fs::read_to_string(tmp.path().join("b/A/report.md")).unwrap();
    assert!(md.contains("(pending): not run: shard 1 is missing"), "{md}");
}

#[test]
fn a_gate_that_compared_nothing_does_not_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Batch::new("a").write(
        tmp.path(),
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("chat-stream", vec![("concurrency", json!(4))]),
        ],
    );
    let b = Batch::new("b").write(
        tmp.path(),
        &[
            Run::ok("fail-noserver", vec![("concurrency", json!(2))])
                .with_status(RunStatus::Failed, Some("x")),
            Run::ok("fail-noserver", vec![("concurrency", json!(4))])
                .with_status(RunStatus::Failed, Some("x")),
        ],
    );
    let out =
        sweeper().arg("compare").arg(&a).arg(&b).arg("--fail-on-regression").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("nothing was compared") && t.contains("no point has results on both sides"),
        "{t}"
    );
}

#[test]
fn values_no_measurement_gives_are_rejected_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = |_: ()| -> Vec<Run> {
        (1..=3).map(|k| Run::ok("chat-stream", vec![("concurrency", json!(2))]).repeat(k)).collect()
    };
    let a = Batch::new("a")
        .repeats(3, sweeper::records::RepeatOrder::Interleaved)
        .write(tmp.path(), &runs(()));
    let b = Batch::new("b")
        .repeats(3, sweeper::records::RepeatOrder::Interleaved)
        .write(tmp.path(), &runs(()));
    let export = b.join("concurrency2/repeat_2/profile_export_aiperf.json");
    let mut e = read_json(&export);
    e["time_to_first_token"]["avg"] = json!(1.7e308);
    e["output_token_throughput"]["avg"] = json!(-1e308);
    std::fs::write(&export, e.to_string()).unwrap();
    let out =
        sweeper().arg("compare").arg(&a).arg(&b).arg("--fail-on-regression").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("unusable values") && t.contains("concurrency2"), "{t}");
    assert!(!t.contains("no repeats"), "{t}");
}

#[test]
fn a_baseline_without_a_common_point_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let base = Batch::new("base")
        .write(tmp.path(), &[Run::ok("chat-stream", vec![("concurrency", json!(2))])]);
    let cfg = common::config::write(
        tmp.path(),
        "c.yaml",
        &format!(
            "batch_name: new\noutput_base_dir: {}\nbase_config: {{model: m, url: 'http://127.0.0.1:9'}}\nsweeps: {{concurrency: [64]}}\n",
            tmp.path().join("out").display()
        ),
    );
    let out = sweeper()
        .arg("-c")
        .arg(&cfg)
        .arg("--baseline")
        .arg(&base)
        .arg("--fail-on-regression")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("matches a point of"), "{t}");
    assert!(!tmp.path().join("out").exists(), "nothing ran");
}

#[test]
fn echoed_input_is_escaped_and_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let a = two_runs(tmp.path(), RunStatus::Succeeded);
    let out =
        sweeper().arg("compare").arg(&a).arg(&a).args(["--threshold", "1e308"]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("--threshold 1e308:") && !t.contains("00000000000000000000"), "{t}");
    let cfg = common::config::write(
        tmp.path(),
        "c.yaml",
        "base_config: {model: m, url: 'http://127.0.0.1:9'}\nsweeps: {concurrency: [1, 2]}\n",
    );
    let hostile = format!("a\u{1b}[31mred\n{}", "x".repeat(500));
    for flag in [
        ["--shard", "1/2", "--batch-id", hostile.as_str()],
        ["--shard", hostile.as_str(), "--batch-id", "b"],
    ] {
        let out = sweeper().arg("-c").arg(&cfg).args(flag).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(!t.contains('\u{1b}') && t.contains("\\u{1b}[31mred\\n"), "{t}");
        assert!(t.len() < 1000 && t.contains("(510 characters)"), "{t}");
    }
}
