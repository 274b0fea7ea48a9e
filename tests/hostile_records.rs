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
