//! `sweeper export slurm`: an sbatch script that runs a sweep as a Slurm array of N shards
//! (`--shard $SLURM_ARRAY_TASK_ID/N --batch-id $SLURM_ARRAY_JOB_ID`) and, when run with `bash`,
//! submits itself and a dependent `sweeper merge` job. API keys are never in it: the submitter's
//! environment reaches the tasks (`--export=ALL`).

use std::path::PathBuf;

use super::JobError;
use crate::util::shell::quote;

/// What the script needs.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    pub batch_name: String,
    pub shards: usize,
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub time: Option<String>,
    /// sweeper as the nodes run it.
    pub sweeper: PathBuf,
    /// The config, absolute.
    pub config: PathBuf,
    /// Where the tasks run (relative paths of the config resolve here), absolute.
    pub workdir: PathBuf,
    /// `<output_base_dir>/<batch_name>`, absolute: the batch directories are `<this>/<array id>`.
    pub batch_parent: PathBuf,
    /// Environment variables that hold API keys (`api_key_env_var`): checked at submission.
    pub key_vars: Vec<String>,
}

/// Why a value cannot go into an `#SBATCH` line (or a manifest field): only letters, digits and
/// the characters of `allowed`.
pub fn check(what: &str, v: &str, allowed: &str, hint: &str) -> Result<(), JobError> {
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || allowed.contains(c)) {
        return Err(JobError::BadFlag {
            flag: what.into(),
            value: v.into(),
            why: format!("only letters, digits and `{allowed}` are allowed"),
            hint: hint.into(),
        });
    }
    Ok(())
}

/// `--time` as Slurm reads it: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`, or
/// `UNLIMITED`.
pub fn check_time(t: &str) -> Result<(), JobError> {
    let num = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let clock = |c: &str| {
        let parts: Vec<&str> = c.split(':').collect();
        parts.len() <= 3 && parts.iter().all(|p| num(p))
    };
    let ok = matches!(t, "UNLIMITED" | "INFINITE")
        || match t.split_once('-') {
            Some((d, rest)) => num(d) && clock(rest),
            None => clock(t),
        };
    if ok {
        Ok(())
    } else {
        Err(JobError::BadFlag {
            flag: "time".into(),
            value: t.into(),
            why: "not a Slurm time limit".into(),
            hint: "`MM`, `HH:MM:SS`, `D-HH:MM:SS` (e.g. `--time 02:00:00`), see `man sbatch`"
                .into(),
        })
    }
}

/// A path as one shell word.
fn q(p: &std::path::Path) -> String {
    quote(&p.to_string_lossy())
}

/// The script. Every value from the config, the command line or the file system reaches it
/// through [`quote`], once, as a variable's value; the commands only use the variables (in
/// double quotes), so nothing is parsed twice. The merge job is this same script (with
/// `SWEEPER_MERGE_OF=<array job id>`), not a `--wrap` string.
pub fn script(j: &SlurmJob) -> String {
    let n = j.shards;
    let name = &j.batch_name; // the schema allows [A-Za-z0-9._-] only
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# sweeper: `{name}` as a Slurm array of {n} shard(s) (written by `sweeper export slurm`).\n"
    ));
    s.push_str("#\n#   bash THIS_FILE     submits the array, then `sweeper merge --partial` as a job that\n#                      runs after it (whatever the shards' outcome); from any directory\n");
    s.push_str("#   sbatch THIS_FILE   submits the array only, from the directory the tasks run in; when\n#                      it is done: \"$SWEEPER\" merge \"$PARENT/<array job id>\" (values below)\n#\n");
    if j.key_vars.is_empty() {
        s.push_str("# The config names no API key.\n");
    } else {
        s.push_str(&format!(
            "# API keys are never in this file: export {} before submitting; sbatch passes your\n# environment to the tasks (--export=ALL).\n",
            j.key_vars.join(", ")
        ));
    }
    // #SBATCH lines are read by sbatch, not a shell: only validated values go there.
    s.push_str(&format!("#SBATCH --job-name=sweeper-{name}\n"));
    s.push_str(&format!("#SBATCH --array=0-{}\n", n - 1));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --output=sweeper-{name}-%A_%a.out\n"));
    s.push_str("#SBATCH --export=ALL\n");
    if let Some(p) = &j.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(g) = j.gpus_per_task {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    if let Some(t) = &j.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "SWEEPER={}\nCONFIG={}\nPARENT={}\nWORKDIR={}\n",
        q(&j.sweeper),
        q(&j.config),
        q(&j.batch_parent),
        q(&j.workdir)
    ));
    s.push_str("if [ -n \"${SWEEPER_MERGE_OF:-}\" ]; then\n  # The merge job: after every shard, whatever its outcome.\n  exec \"$SWEEPER\" merge --partial \"$PARENT/$SWEEPER_MERGE_OF\"\nfi\n");
    s.push_str("if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n");
    s.push_str(
        "  # Not inside Slurm: submit the array, then the merge after it (whatever its outcome).\n",
    );
    for v in &j.key_vars {
        s.push_str(&format!(
            "  [ -n \"${{{v}:-}}\" ] || {{ echo \"error: export {v} before submitting (the shards read the API key from it)\" >&2; exit 2; }}\n"
        ));
    }
    // `$0` made absolute first: `bash exp/job.sh` works from any directory.
    s.push_str("  case $0 in /*) script=$0 ;; *) script=$PWD/$0 ;; esac\n");
    s.push_str(
        "  array=$(sbatch --parsable --chdir=\"$WORKDIR\" \"$script\")\n  array=${array%%;*}\n",
    );
    s.push_str(&format!(
        "  merge=$(sbatch --parsable --array=0 --job-name=sweeper-{name}-merge --dependency=afterany:\"$array\" --chdir=\"$WORKDIR\" --output=sweeper-{name}-%j-merge.out --export=ALL,SWEEPER_MERGE_OF=\"$array\" \"$script\")\n"
    ));
    s.push_str(&format!(
        "  echo \"submitted: shards in job $array ({n} tasks), merge in job ${{merge%%;*}}; results: $PARENT/$array\"\n  exit 0\nfi\n"
    ));
    s.push_str("# A requeued task continues its shard instead of starting it again.\n");
    s.push_str(&format!(
        "shard=\"$PARENT/$SLURM_ARRAY_JOB_ID/shards/$SLURM_ARRAY_TASK_ID\"\nif [ -d \"$shard\" ]; then\n  exec \"$SWEEPER\" --config-file \"$CONFIG\" --resume \"$shard\" --shard \"$SLURM_ARRAY_TASK_ID/{n}\"\nfi\n"
    ));
    s.push_str(&format!(
        "exec \"$SWEEPER\" --config-file \"$CONFIG\" --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --batch-id \"$SLURM_ARRAY_JOB_ID\"\n"
    ));
    s
}
