//! Scale-out: which shard runs what, merging shards back into one batch, and the sweep as a
//! Slurm array or a Kubernetes Indexed Job.

pub mod k8s;
pub mod merge;
pub mod shard;
pub mod slurm;

/// Why a job file (an sbatch script, Kubernetes manifests) cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A flag value that cannot go into the job (`--partition`, `--time`, `--pvc-size`...).
    #[error("--{flag} `{value}`: {why}")]
    BadFlag { flag: String, value: String, why: String, hint: String },
    /// More shards than a Kubernetes Job can count.
    #[error("{0} shards are more than a Kubernetes Job can run")]
    TooManyShards(usize),
    #[error("failed to write YAML: {0}")]
    Yaml(String),
    /// `export k8s` with an `output_base_dir` the results claim would not hold.
    #[error(
        "output_base_dir `{}` is outside the results claim: the pods write under /results (the claim), and results written elsewhere are lost when the pod ends",
        dir.display()
    )]
    OffClaim { dir: std::path::PathBuf },
}

impl JobError {
    /// What to try.
    pub fn hint(&self) -> String {
        match self {
            JobError::BadFlag { hint, .. } => hint.clone(),
            JobError::TooManyShards(_) => "use at most 10000 shards".into(),
            JobError::Yaml(_) => "report this as a bug".into(),
            JobError::OffClaim { .. } => "use a relative output_base_dir without `..` (e.g. `out`): the shards then write /results/out/<batch_name>/<batch id>/ on the claim".into(),
        }
    }
}
