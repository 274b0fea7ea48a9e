//! Writing a batch in another tool's layout (tt-inference-server's flat results folder), or a
//! sweep as another tool's job (a Slurm array, a Kubernetes Indexed Job).

pub mod k8s;
pub mod slurm;
pub mod tt;
