//! The highest load under an SLO: `search` and `stop_when`, with the real aiperf 0.13.0 against
//! the built-in mock server, whose serving model gives a known answer:
//!
//! The mock runs at most `max_num_seqs` (M) sequences; the rest wait in a FIFO queue. With a
//! closed loop of C clients (aiperf's `--concurrency C`) and C <= M nobody waits: TTFT is the
//! prefill, 20 ms (+ 0.02 ms per prompt token and the client's own overhead). With C > M the
//! clients start together, M are served and C - M wait for a whole service time,
//! S = prefill + (osl - 1) x decode step ≈ 20 + 9 x 20 = 200 ms, and the cohorts stay in step:
//! in every cohort C - M requests see TTFT ≈ 220 ms, so TTFT p99 is about 220 ms. Under an SLO of
//! `ttft_p99_ms: 120` the largest concurrency is exactly M, with ~100 ms of margin either side
//! for a busy machine's scheduling delays. A slow client only adds to TTFT, so it cannot make a
//! point past M pass; at C <= M it would need 80 ms of extra delay at p99 to fail one. Measured
//! with two CPU burners on the 2-core CI machine (M = 4, three sweeps): TTFT p99 35-44 ms at
//! C = 3 and 4, 224-235 ms at C = 5 and 6; the whole suite under that load is green.

mod common;

use common::config::MockSweep;
use common::*;

/// `<dir>/<name>.yaml`: the mock (prefill and decode step 20 ms), 32 requests of ISL 32 and OSL
/// 10, output in `<dir>/out`, then `rest`.
fn mock_config(dir: &std::path::Path, name: &str, rest: &str) -> std::path::PathBuf {
    MockSweep::new(name)
        .output(&dir.join("out"))
        .server("prefill_base_ms: 20, decode_base_ms: 20")
        .base(&["request_count: 32", "isl: 32", "osl: 10"])
        .rest(rest)
        .write(dir, &format!("{name}.yaml"))
}

fn max_load_rows(md: &str) -> Vec<String> {
    let start = md.find("## Max load under SLO").expect("the section");
    md[start..]
        .lines()
        .filter(|l| l.starts_with("| server.") || l.starts_with("| - |"))
        .map(str::to_owned)
        .collect()
}

/// Two servers (max_num_seqs 4 and 6, one server per value): the search finds 4 and 6, within
/// the bound on runs, every probe a run of its own; `--resume` replays the recorded probes and
/// runs only the one whose record is gone.
#[test]
fn search_finds_the_analytic_maximum_per_server() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let f = mock_config(
        tmp.path(),
        "srch",
        "sweeps:\n  server.max_num_seqs: [4, 6]\nsearch:\n  variable: concurrency\n  min: 2\n  max: 32\n  slo: {ttft_p99_ms: 120, error_rate: 0.01}\n  resolution: 0.1\n",
    );
    let dry = sweeper().arg("-c").arg(&f).arg("--dry-run").output().unwrap();
    let t = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{t}");
    // ceil(log2(32/2)) + 1 + ceil(log2(1/0.1)) = 4 + 1 + 4, and 4 re-runs to confirm.
    assert!(t.contains("2 search groups (at most 26 runs)"), "{t}");
    assert!(t.contains("in [2, 32] that meets error_rate <= 0.01, ttft_p99_ms <= 120"), "{t}");
    assert!(t.contains("at most 13 probe(s) per group"), "{t}");

    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(
            "search server.max_num_seqs=4: largest concurrency under the SLO: 4; first breach at 5"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "search server.max_num_seqs=6: largest concurrency under the SLO: 6; first breach at 7"
        ),
        "{log}"
    );
    let batch = batch_dir(&tmp.path().join("out"), "srch");
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    let rows = max_load_rows(&md);
    assert_eq!(rows.len(), 2, "{md}");
    assert!(
        rows[0].starts_with("| server.max_num_seqs=4 | **4** |")
            && rows[0].contains("| 5 | ttft_p99 "),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("| server.max_num_seqs=6 | **6** |")
            && rows[1].contains("| 7 | ttft_p99 "),
        "{}",
        rows[1]
    );
    // ceil(log2(max/min)) + ceil(log2(1/resolution)) + 2 = 4 + 4 + 2 runs at most, per group,
    // and at most 4 re-runs confirming the boundary.
    let plan = read_json(&batch.join("plan.json"));
    let probes = plan["combinations"].as_array().unwrap();
    for g in [0, 1] {
        let n = probes.iter().filter(|c| c["probe"]["group"] == g).count();
        assert!((3..=14).contains(&n), "group {g}: {n} probes");
    }
    // Each probe is a real run with its own directory, records, results and tt JSON; the
    // search path is in the plan and the manifest.
    let manifest = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(manifest["runs"].as_array().unwrap().len(), probes.len());
    for c in probes {
        let d = batch.join(c["dir"].as_str().unwrap());
        assert!(
            d.join("process_result.json").is_file()
                && d.join("profile_export_aiperf.json").is_file()
        );
        assert!(!tt_files(&d).is_empty());
    }
    assert!(batch.join("concurrency5_server.max_num_seqs4").is_dir());
    let html = std::fs::read_to_string(batch.join("report.html")).unwrap();
    assert!(html.contains("class=\"point fail\"") && html.contains("class=\"point pass\""));

    // Resume: the last probe of group 0 lost its record; the others are replayed, it reruns.
    let last0 = probes.iter().rfind(|c| c["probe"]["group"] == 0).unwrap();
    std::fs::remove_file(batch.join(last0["dir"].as_str().unwrap()).join("process_result.json"))
        .unwrap();
    let out = sweeper().arg("-c").arg(&f).arg("--resume").arg(&batch).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("completed : 1"), "{log}");
    assert!(log.contains(&format!("skipped   : {}", probes.len() - 1)), "{log}");
    assert!(log.contains("largest concurrency under the SLO: 4;"), "{log}");
    let after = read_json(&batch.join("plan.json"));
    assert_eq!(after["combinations"].as_array().unwrap().len(), probes.len(), "no new probe");
}

/// A ladder with `stop_when`: 2 and 4 meet the SLO, 8 breaks it, 16 and 32 are skipped with the
/// reason (no process_result.json), in every report; `--resume` does not run them.
#[test]
fn stop_when_skips_the_rest_of_a_ladder() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let f = mock_config(
        tmp.path(),
        "ladder",
        "sweeps:\n  server.max_num_seqs: [4]\n  concurrency: [32, 2, 16, 4, 8]\nstop_when:\n  dimension: concurrency\n  slo: {ttft_p99_ms: 120}\n",
    );
    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // 2, 4, 8, then 8 again (its failure confirmed) and 4 again (the last pass confirmed).
    assert!(log.contains("completed : 5") && log.contains("skipped   : 2"), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "ladder");
    let manifest = read_json(&batch.join("batch_manifest.json"));
    let status = |c: u32| {
        manifest["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["params"]["concurrency"] == c)
            .unwrap()
            .clone()
    };
    for c in [2, 4, 8] {
        assert_eq!(status(c)["status"], "succeeded", "{}", status(c));
    }
    for c in [16, 32] {
        let r = status(c);
        assert_eq!(r["status"], "skipped", "{r}");
        let why = r["reason"].as_str().unwrap();
        assert!(
            why.starts_with("stopped: ttft_p99 ") && why.ends_with("ms > 120 ms at concurrency 8"),
            "{why}"
        );
        let dir = batch.join(r["dir"].as_str().unwrap());
        assert!(!dir.join("process_result.json").exists());
    }
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    let rows = max_load_rows(&md);
    assert!(
        rows[0].starts_with("| server.max_num_seqs=4 | **4** |")
            && rows[0].contains("| 5 (2 to confirm) (+2 skipped) |"),
        "{md}"
    );
    assert!(md.contains("Not run, their ladder having stopped:"), "{md}");
    let s = read_json(&batch.join("summary.json"));
    assert_eq!(s["max_load"]["stopped"].as_array().unwrap().len(), 2);
    let out = sweeper().arg("-c").arg(&f).arg("--resume").arg(&batch).output().unwrap();
    let log = text(&out);
    assert!(log.contains("completed : 0") && log.contains("skipped   : 7"), "{log}");
}

/// Bad input is a config error (exit 2, with the line) before anything runs.
#[test]
fn load_search_config_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "sweeps:\n  concurrency: [1, 2]\nstop_when:\n  dimension: request_rate\n  slo: {ttft_p99_ms: 100}\n",
            "`request_rate` is not swept",
            "stop_when.dimension",
        ),
        (
            "sweeps:\n  concurrency: [1, 2]\n  model: [a, b]\nstop_when:\n  dimension: model\n  slo: {ttft_p99_ms: 100}\n",
            "its values must be numbers",
            "sweeps.model[0]",
        ),
        (
            "sweeps:\n  concurrency: [1, 2]\nsearch:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {ttft_p99_ms: 100}\n",
            "`concurrency` is both swept and searched",
            "sweeps.concurrency",
        ),
        (
            "search:\n  variable: concurrency\n  min: 8\n  max: 8\n  slo: {ttft_p99_ms: 100}\n",
            "`max` (8) is not above `min` (8)",
            "search.max",
        ),
        (
            "search:\n  variable: concurrency\n  min: 1.5\n  max: 8\n  slo: {ttft_p99_ms: 100}\n",
            "not a whole number",
            "search.min",
        ),
        (
            "search:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {ttft_p99: 100}\n",
            "unknown SLO key `ttft_p99`",
            "did you mean `ttft_p99_ms`?",
        ),
        (
            "search:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {}\n",
            "at least one SLO",
            "search.slo",
        ),
        (
            "search:\n  variable: rate\n  min: 1\n  max: 8\n  slo: {ttft_p99_ms: 1}\n",
            "\"rate\" is not one of",
            "search.variable",
        ),
        (
            "sweeps:\n  concurrency: [1, 2]\nstop_when:\n  dimension: concurrency\n",
            "needs an `slo` or a `saturation`",
            "stop_when",
        ),
        (
            "sweeps:\n  concurrency: [1, 2]\nstop_when:\n  dimension: concurrency\n  slo: {ttft_p99_ms: 1}\nsearch:\n  variable: request_rate\n  min: 1\n  max: 8\n  slo: {ttft_p99_ms: 1}\n",
            "cannot be used together",
            "search",
        ),
        (
            "repeats: {count: 3, order: interleaved}\nsearch:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {ttft_p99_ms: 1}\n",
            "`order: interleaved` cannot be used with `search`",
            "repeats.order",
        ),
    ];
    for (rest, says, at) in cases {
        let f = mock_config(tmp.path(), "bad", rest);
        let out = sweeper().arg("validate").arg(&f).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{rest}\n{t}");
        assert!(
            t.contains(says) && t.contains(at) && t.contains("bad.yaml:"),
            "{rest}: want `{says}` at `{at}`\n{t}"
        );
    }
    // An SLO on a metric without streaming: nothing to measure it with.
    let f = common::config::write(
        tmp.path(),
        "nostream.yaml",
        "base_config:\n  model: m\n  url: http://127.0.0.1:1\nsearch:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {itl_p99_ms: 100, e2el_p99_ms: 900}\n",
    );
    let out = sweeper().arg("validate").arg(&f).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("nostream.yaml:8:9")
            && t.contains("`itl_p99_ms` is measured only on streamed responses"),
        "{t}"
    );
    assert!(!t.contains("e2el_p99_ms` is measured"), "{t}");
    // The short form of repeats with a search: back to back, said by --dry-run.
    let f = mock_config(
        tmp.path(),
        "rep",
        "repeats: 3\nsearch:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {ttft_p99_ms: 100}\n  slo_on: ci_upper\n",
    );
    let out = sweeper().arg("-c").arg(&f).arg("--dry-run").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("back to back") && t.contains("--num-profile-runs 3"), "{t}");
    assert!(t.contains("(on the upper end of the confidence interval)"), "{t}");
}

/// With repeats the SLO is judged on the mean by default, on the upper end of the confidence
/// interval with `slo_on: ci_upper`: a limit between the two passes one and fails the other.
#[test]
fn slo_on_mean_or_ci_upper() {
    use common::batch::{Batch, Run};
    use sweeper::model::metrics::{Metric, Stat};
    use sweeper::records::RepeatOrder;
    use sweeper::search::verdict::{SloOn, breaches};
    let tmp = tempfile::tempdir().unwrap();
    let runs: Vec<Run> = ["chat-stream", "chat-goodput", "chat-partial-errors"]
        .iter()
        .enumerate()
        .map(|(k, f)| Run::ok(f, vec![("concurrency", serde_json::json!(2))]).repeat(k as u32 + 1))
        .collect();
    let batch = Batch::new("r").repeats(3, RepeatOrder::Interleaved).write(tmp.path(), &runs);
    let run = &sweeper::results::collect(&batch).unwrap().runs[0];
    let s = *run.spread.as_ref().unwrap().get(Metric::Ttft, Stat::P99).unwrap();
    assert!(s.ci_high > s.mean);
    let limit = (s.mean + s.ci_high) / 2.0;
    let slo: std::collections::BTreeMap<String, f64> = [("ttft_p99_ms".to_owned(), limit)].into();
    assert!(breaches(run, &slo, SloOn::Mean).is_empty());
    let b = breaches(run, &slo, SloOn::CiUpper);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value, Some(s.ci_high));
    // error_rate from the completed and failed requests: chat-partial-errors has some.
    let rate: std::collections::BTreeMap<String, f64> = [("error_rate".to_owned(), 0.0)].into();
    assert_eq!(breaches(run, &rate, SloOn::Mean).len(), 1);
}
