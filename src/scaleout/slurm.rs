//! `sweeper export slurm`: an sbatch script that runs a sweep as a Slurm array of N shards
//! (`--shard $SLURM_ARRAY_TASK_ID/N --batch-id $SLURM_ARRAY_JOB_ID`) and, when run with `bash`,
//! submits itself and a dependent `sweeper merge` job. API keys are never in it: the submitter's
//! environment reaches the tasks (`--export=ALL`).

use std::path::PathBuf;

use super::JobError;

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

fn q(p: &std::path::Path) -> String {
    shell_words::quote(&p.display().to_string()).into_owned()
}

/// The script.
pub fn script(j: &SlurmJob) -> String {
    let n = j.shards;
    let parent = q(&j.batch_parent);
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# sweeper: `{}` as a Slurm array of {n} shard(s) (written by `sweeper export slurm`).\n",
        j.batch_name
    ));
    s.push_str("#\n#   bash THIS_FILE     submits the array, then `sweeper merge` as a job that runs after it\n");
    s.push_str(&format!(
        "#   sbatch THIS_FILE   submits the array only; when it is done:\n#                      {} merge {}/<array job id>\n#\n",
        q(&j.sweeper),
        parent
    ));
    if j.key_vars.is_empty() {
        s.push_str("# The config names no API key.\n");
    } else {
        s.push_str(&format!(
            "# API keys are never in this file: export {} before submitting; sbatch passes your\n# environment to the tasks (--export=ALL).\n",
            j.key_vars.join(", ")
        ));
    }
    s.push_str(&format!("#SBATCH --job-name=sweeper-{}\n", j.batch_name));
    s.push_str(&format!("#SBATCH --array=0-{}\n", n - 1));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --chdir={}\n", j.workdir.display()));
    s.push_str(&format!("#SBATCH --output=sweeper-{}-%A_%a.out\n", j.batch_name));
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
    s.push_str(&format!("SWEEPER={}\nCONFIG={}\n", q(&j.sweeper), q(&j.config)));
    s.push_str("if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n");
    s.push_str(
        "  # Not inside Slurm: submit the array, then the merge after it (whatever its outcome).\n",
    );
    for v in &j.key_vars {
        s.push_str(&format!(
            "  [ -n \"${{{v}:-}}\" ] || {{ echo \"error: export {v} before submitting (the shards read the API key from it)\" >&2; exit 2; }}\n"
        ));
    }
    s.push_str(&format!("  cd {}\n", q(&j.workdir)));
    s.push_str("  array=$(sbatch --parsable \"$0\")\n  array=${array%%;*}\n");
    s.push_str(&format!(
        "  merge=$(sbatch --parsable --job-name=sweeper-{name}-merge --dependency=afterany:\"$array\" --chdir={wd} --output=sweeper-{name}-%j-merge.out --export=ALL --wrap=\"$SWEEPER merge --partial {parent}/$array\")\n",
        name = j.batch_name,
        wd = q(&j.workdir),
    ));
    s.push_str(&format!(
        "  echo \"submitted: shards in job $array ({n} tasks), merge in job ${{merge%%;*}}; results: {}/$array\"\n  exit 0\nfi\n",
        j.batch_parent.display()
    ));
    s.push_str("# A requeued task continues its shard instead of starting it again.\n");
    s.push_str(&format!(
        "shard={parent}/\"$SLURM_ARRAY_JOB_ID\"/shards/\"$SLURM_ARRAY_TASK_ID\"\nif [ -d \"$shard\" ]; then\n  exec \"$SWEEPER\" --config-file \"$CONFIG\" --resume \"$shard\" --shard \"$SLURM_ARRAY_TASK_ID/{n}\"\nfi\n"
    ));
    s.push_str(&format!(
        "exec \"$SWEEPER\" --config-file \"$CONFIG\" --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --batch-id \"$SLURM_ARRAY_JOB_ID\"\n"
    ));
    s
}
