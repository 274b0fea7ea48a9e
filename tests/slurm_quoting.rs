//! The Slurm export with hostile values: config paths, `output_base_dir`, the directory the
//! export runs from and the `--sweeper` path holding quotes, `$()`, backticks, `;`, newlines,
//! spaces and non-ASCII text. The generated script runs (`bash <dir>/job.sh` from another
//! directory) with a stand-in `sbatch` on PATH that runs each job at once as a node would (a
//! `--wrap` text with `sh -c`, a script with bash and its `--export` variables): nothing injected
//! runs, and the stand-in sweeper receives every path byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::stub::write_executable;
use common::*;
use proptest::prelude::*;

/// A stand-in for `sbatch --parsable`: prints a job id, then runs the job in the foreground.
const SBATCH: &str = r#"#!/bin/bash
set -u
wrap= ; script= ; chdir=$PWD ; envs=() ; id=$((1000 + RANDOM % 9000))
for a in "$@"; do
  case $a in
    --wrap=*) wrap=${a#--wrap=} ;;
    --chdir=*) chdir=${a#--chdir=} ;;
    --export=*) IFS=, read -r -a parts <<< "${a#--export=}"
                for p in "${parts[@]}"; do case $p in *=*) envs+=("$p") ;; esac; done ;;
    --*) ;;
    *) script=$a ;;
  esac
done
echo "$id"
cd "$chdir" || { echo "sbatch stand-in: no such directory: $chdir" >&2; exit 1; }
if [ -n "$wrap" ]; then
  sh -c "$wrap" >&2
else
  env "${envs[@]}" SLURM_ARRAY_JOB_ID="$id" SLURM_ARRAY_TASK_ID=0 bash "$script" >&2
fi
"#;

/// A stand-in sweeper: writes its arguments (NUL-separated) to a new file in `$ARGV_LOG`,
/// named by the time, so the calls sort in order.
const FAKE_SWEEPER: &str = "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$ARGV_LOG/$(date +%s%N)\"\n";

/// Every file or directory under `dir` whose name starts with `PWNED`.
fn pwned(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return found };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with("PWNED") {
            found.push(p.clone());
        }
        if p.is_dir() && !p.is_symlink() {
            found.extend(pwned(&p));
        }
    }
    found
}

/// Exports a two-shard job with these values, runs it from the parent of the export
/// directory, and checks what ran.
fn export_and_run(cfg_name: &str, out_dir: &str, workdir: &str, sweeper_dir: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let bin = base.join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_executable(&bin.join("sbatch"), SBATCH);
    let fake = base.join(sweeper_dir).join("sweeper");
    std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
    write_executable(&fake, FAKE_SWEEPER);
    let wd = base.join(workdir);
    std::fs::create_dir_all(&wd).unwrap();
    let cfg = format!("{cfg_name}.yaml");
    common::config::write(
        &wd,
        &cfg,
        &format!(
            "batch_name: b\noutput_base_dir: {}\nserver: {{kind: mock}}\nbase_config: {{model: m, tokenizer: '@offline', request_count: 4}}\nsweeps: {{server.max_num_seqs: [4, 8], concurrency: [1, 2]}}\n",
            serde_json::to_string(out_dir).unwrap()
        ),
    );
    let out = sweeper()
        .current_dir(&wd)
        .args(["export", "slurm", &cfg, "--shards", "2", "--time", "00:10:00", "--sweeper"])
        .arg(&fake)
        .args(["-o", "job.sh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "export failed:\n{}", text(&out));
    let syntax = Command::new("bash").arg("-n").arg(wd.join("job.sh")).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", text(&syntax));
    let log = base.join("argv");
    std::fs::create_dir(&log).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // From the parent directory, by a relative path (`cd .. && bash exp/job.sh`).
    let run = Command::new("bash")
        .current_dir(base)
        .arg(Path::new(workdir).join("job.sh"))
        .env("PATH", path)
        .env("ARGV_LOG", &log)
        .output()
        .unwrap();
    assert!(run.status.success(), "bash job.sh failed:\n{}", text(&run));
    let hits = pwned(base);
    assert!(hits.is_empty(), "injected commands ran: {hits:?}\n{}", text(&run));
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&log).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let calls: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            std::fs::read(f)
                .unwrap()
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8(a.to_vec()).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(calls.len(), 2, "one shard task and the merge ran: {calls:?}");
    let id = calls[0].last().unwrap().clone();
    let config = wd.join(&cfg).display().to_string();
    assert_eq!(calls[0], ["--config-file", &config, "--shard", "0/2", "--batch-id", &id]);
    let parent = wd.join(out_dir).join("b").join(&id);
    assert_eq!(calls[1], ["merge", "--partial", &parent.display().to_string()]);
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.starts_with("submitted: shards in job "), "{said}");
}

#[test]
fn the_issues_repro_runs_nothing_injected() {
    export_and_run(
        "X",
        "res $(touch PWNED_1) `touch PWNED_2`; x",
        "inj$(touch PWNED_4)",
        "opt/x$(touch PWNED_3)/my sweeper",
    );
}

/// One hostile string: pieces a shell treats specially, and text it does not.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        " ",
        "'",
        "\"",
        "$(touch PWNED_a)",
        "`touch PWNED_b`",
        ";",
        "\n",
        "é",
        "日本",
        "\\",
        "$HOME",
        "*",
        "!",
        "&",
        "|",
        ">",
        "#",
        "${IFS}",
        "%",
        "-x",
        "~",
    ]);
    prop::collection::vec(pieces, 1..6).prop_map(|v| format!("d{}", v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn hostile_values_arrive_intact_and_run_nothing(
        cfg in hostile(),
        out_dir in hostile(),
        workdir in hostile(),
        sweeper_dir in hostile(),
    ) {
        export_and_run(&cfg, &out_dir, &workdir, &sweeper_dir);
    }
}

#[test]
fn a_time_limit_slurm_cannot_read_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    common::config::write(
        tmp.path(),
        "s.yaml",
        "batch_name: b\nserver: {kind: mock}\nbase_config: {model: m, tokenizer: '@offline'}\nsweeps: {concurrency: [1, 2]}\n",
    );
    for (time, ok) in [
        ("abc", false),
        ("1:2:3:4", false),
        ("5-", false),
        ("90", true),
        ("2-12:00:00", true),
        ("UNLIMITED", true),
    ] {
        let out = sweeper()
            .current_dir(tmp.path())
            .args(["export", "slurm", "s.yaml", "--shards", "2", "--time", time])
            .output()
            .unwrap();
        if ok {
            assert!(out.status.success(), "{time}: {}", text(&out));
        } else {
            assert_eq!(out.status.code(), Some(2), "{time}: {}", text(&out));
            assert!(text(&out).contains("not a Slurm time limit"), "{}", text(&out));
        }
    }
}
