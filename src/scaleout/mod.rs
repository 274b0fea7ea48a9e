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
}

impl JobError {
    /// What to try.
    pub fn hint(&self) -> String {
        match self {
            JobError::BadFlag { hint, .. } => hint.clone(),
            JobError::TooManyShards(_) => "use at most 10000 shards".into(),
            JobError::Yaml(_) => "report this as a bug".into(),
        }
    }
}
