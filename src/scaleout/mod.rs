//! Scale-out: which shard runs what, merging shards back into one batch, and the sweep as a
//! Slurm array or a Kubernetes Indexed Job.

pub mod k8s;
pub mod merge;
pub mod shard;
pub mod slurm;
