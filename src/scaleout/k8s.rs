//! `sweeper export k8s`: a ConfigMap holding the config, an Indexed Job of N shards
//! (`--shard $JOB_COMPLETION_INDEX/N`), results on a PersistentVolumeClaim, API keys from a
//! Secret reference, GPUs as `nvidia.com/gpu`; and a merge Job that waits for every shard to
//! finish, then merges. Built as typed Kubernetes API objects (`k8s-openapi`), serialized to
//! YAML.

use std::collections::BTreeMap;

use super::JobError;
use crate::util::shell::quote;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    ResourceRequirements, SecretKeySelector, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// What the objects need.
#[derive(Debug, Clone)]
pub struct K8sJob {
    pub batch_name: String,
    /// The config file's text (it holds no secrets: keys come from environment variables).
    pub config_text: String,
    /// `<output_base_dir>/<batch_name>`, relative: the pods run in /results, the claim, so the
    /// results land on it (see [`on_claim`]).
    pub batch_parent: String,
    pub shards: usize,
    pub image: String,
    pub gpus: Option<u32>,
    pub pvc: String,
    pub pvc_size: Option<String>,
    pub namespace: String,
    pub secret: String,
    pub batch_id: String,
    /// Environment variables holding API keys (`api_key_env_var`), read from the Secret.
    pub key_vars: Vec<String>,
    /// The merge Job waits this long for every shard, then merges what is there.
    pub merge_deadline_s: u64,
}

/// `output_base_dir` as the pods use it: relative, under /results (the claim). An absolute
/// path, or one that climbs out with `..`, would write outside the claim, into the container's
/// own file system, and be lost with the pod.
pub fn on_claim(output_base_dir: &std::path::Path) -> Result<(), JobError> {
    use std::path::Component;
    if output_base_dir.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        Ok(())
    } else {
        Err(JobError::OffClaim { dir: output_base_dir.to_path_buf() })
    }
}

/// A DNS-1123 name from `s`: lowercase letters, digits, `-`; at most `max` characters.
pub fn dns_name(s: &str, max: usize) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(max);
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() { "sweeper".into() } else { out }
}

fn meta(name: &str, ns: &str, batch: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.to_owned()),
        labels: Some(BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "sweeper".to_owned()),
            ("sweeper/batch".to_owned(), dns_name(batch, 63)),
        ])),
        ..ObjectMeta::default()
    }
}

/// The pod of a shard or of the merge: the image, the config, the results volume, the keys.
fn pod(j: &K8sJob, config_map: &str, script: String, gpus: Option<u32>) -> PodTemplateSpec {
    let env: Vec<EnvVar> = j
        .key_vars
        .iter()
        .map(|v| EnvVar {
            name: v.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: j.secret.clone(),
                    key: v.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect();
    let resources = gpus.map(|g| {
        let q = BTreeMap::from([("nvidia.com/gpu".to_owned(), Quantity(g.to_string()))]);
        ResourceRequirements { limits: Some(q.clone()), requests: Some(q), ..Default::default() }
    });
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_owned(),
                "sweeper".to_owned(),
            )])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            containers: vec![Container {
                name: "sweeper".into(),
                image: Some(j.image.clone()),
                command: Some(vec!["/bin/sh".into(), "-c".into(), script]),
                working_dir: Some("/results".into()),
                env: (!env.is_empty()).then_some(env),
                resources,
                volume_mounts: Some(vec![
                    VolumeMount {
                        name: "config".into(),
                        mount_path: "/config".into(),
                        read_only: Some(true),
                        ..VolumeMount::default()
                    },
                    VolumeMount {
                        name: "results".into(),
                        mount_path: "/results".into(),
                        ..VolumeMount::default()
                    },
                ]),
                ..Container::default()
            }],
            volumes: Some(vec![
                Volume {
                    name: "config".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: config_map.to_owned(),
                        ..ConfigMapVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                Volume {
                    name: "results".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: j.pvc.clone(),
                        read_only: Some(false),
                    }),
                    ..Volume::default()
                },
            ]),
            ..PodSpec::default()
        }),
    }
}

/// The Indexed Job of the shards: index K runs shard K/N; a retried index continues its shard
/// (`--resume`) instead of starting it again.
fn shards_job(j: &K8sJob, base: &str, cm_name: &str, batch_dir: &str, n: i32) -> Job {
    let shard_script = format!(
        "set -eu\nk=\"$JOB_COMPLETION_INDEX\"\nd={dir}/shards/\"$k\"\nif [ -d \"$d\" ]; then\n  exec sweeper --config-file /config/config.yaml --resume \"$d\" --shard \"$k/{n}\"\nfi\nexec sweeper --config-file /config/config.yaml --shard \"$k/{n}\" --batch-id {id}\n",
        dir = quote(batch_dir),
        id = quote(&j.batch_id),
    );
    Job {
        metadata: meta(&format!("{base}-shards"), &j.namespace, &j.batch_name),
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(n),
            parallelism: Some(n),
            backoff_limit_per_index: Some(2),
            template: pod(j, cm_name, shard_script, j.gpus),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The merge pod's script: waits until every shard's manifest says it finished, then merges;
/// at the deadline (shards whose pods failed for good never finish) it merges what is there
/// (`sweeper merge --partial`, which lists the shards missing or unfinished, and exits 1).
fn merge_script(batch_dir: &str, shards: usize, deadline_s: u64) -> String {
    format!(
        "d={dir}\nend=$(( $(date +%s) + {deadline_s} ))\nwhile :; do\n  done=0\n  for k in $(seq 0 {last}); do\n    grep -Eqs '\"finished\": *true' \"$d/shards/$k/batch_manifest.json\" && done=$((done + 1))\n  done\n  [ \"$done\" -eq {shards} ] && exec sweeper merge \"$d\"\n  if [ \"$(date +%s)\" -ge \"$end\" ]; then\n    echo \"sweeper: $(({shards} - done)) of {shards} shard(s) not finished after {deadline_s}s: merging what is there\" >&2\n    exec sweeper merge --partial \"$d\"\n  fi\n  sleep {pause}\ndone\n",
        dir = quote(batch_dir),
        last = shards - 1,
        pause = deadline_s.clamp(1, 30),
    )
}

/// The objects, as one multi-document YAML stream.
pub fn manifests(j: &K8sJob) -> Result<String, JobError> {
    let base = dns_name(&format!("sweeper-{}", j.batch_name), 40);
    let cm_name = format!("{base}-config");
    let n = i32::try_from(j.shards).map_err(|_| JobError::TooManyShards(j.shards))?;
    let batch_dir = format!("{}/{}", j.batch_parent, j.batch_id);
    let cm = ConfigMap {
        metadata: meta(&cm_name, &j.namespace, &j.batch_name),
        data: Some(BTreeMap::from([("config.yaml".to_owned(), j.config_text.clone())])),
        ..ConfigMap::default()
    };
    let shards = shards_job(j, &base, &cm_name, &batch_dir, n);
    let merge = Job {
        metadata: meta(&format!("{base}-merge"), &j.namespace, &j.batch_name),
        spec: Some(JobSpec {
            completions: Some(1),
            parallelism: Some(1),
            // A partial merge exits 1: the Job fails, listing the shards, instead of retrying.
            backoff_limit: Some(0),
            // A backstop: the script merges by the deadline; the Job never outlives it by long.
            active_deadline_seconds: Some(j.merge_deadline_s.saturating_add(3600) as i64),
            template: pod(
                j,
                &cm_name,
                merge_script(&batch_dir, j.shards, j.merge_deadline_s),
                None,
            ),
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    let mut docs = Vec::new();
    let yaml = |v: &dyn erased::Yaml| v.to_yaml();
    if let Some(size) = &j.pvc_size {
        let pvc = PersistentVolumeClaim {
            metadata: meta(&j.pvc, &j.namespace, &j.batch_name),
            spec: Some(PersistentVolumeClaimSpec {
                // Shards on several nodes write into it at once.
                access_modes: Some(vec!["ReadWriteMany".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".to_owned(),
                        Quantity(size.clone()),
                    )])),
                    ..Default::default()
                }),
                ..PersistentVolumeClaimSpec::default()
            }),
            ..PersistentVolumeClaim::default()
        };
        docs.push(yaml(&pvc)?);
    }
    docs.push(yaml(&cm)?);
    docs.push(yaml(&shards)?);
    docs.push(yaml(&merge)?);
    let header = format!(
        "# sweeper: `{}` as an Indexed Job of {} shard(s) (written by `sweeper export k8s`).\n# kubectl apply -f THIS_FILE; results: /results/{batch_dir} on the claim `{}`.\n# The merge Job merges when every shard finished, or after {}s with the shards it has\n# (`sweeper merge --partial`: the Job then fails and its log lists the missing shards).\n# API keys come from the Secret `{}` (keys: {}); none is in this file.\n",
        j.batch_name,
        j.shards,
        j.pvc,
        j.merge_deadline_s,
        j.secret,
        if j.key_vars.is_empty() { "none needed".to_owned() } else { j.key_vars.join(", ") }
    );
    Ok(format!("{header}---\n{}", docs.join("---\n")))
}

/// Serializing any of the objects to YAML.
mod erased {
    pub trait Yaml {
        fn to_yaml(&self) -> Result<String, super::JobError>;
    }

    impl<T: serde::Serialize> Yaml for T {
        fn to_yaml(&self) -> Result<String, super::JobError> {
            serde_saphyr::to_string(self).map_err(|e| super::JobError::Yaml(e.to_string()))
        }
    }
}
