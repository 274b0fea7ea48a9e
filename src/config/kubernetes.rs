//! The `server: {kind: kubernetes}` section: a manifest template, its variables, the readiness
//! rule, how the server is reached and what happens at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `server: {kind: kubernetes}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesServer {
    /// The manifest: YAML, one or more documents, rendered as a minijinja template with
    /// `vars`, `namespace`, `server_id` and `batch_name` (`{{ vars.kv_backend }}`).
    pub manifest: PathBuf,
    /// Template variables; each can be swept as `server.vars.<name>`.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Namespace of the objects (`kubectl --namespace`). Default: the context's.
    #[serde(default)]
    pub namespace: Option<String>,
    /// kubeconfig context (`kubectl --context`). Default: the current one.
    #[serde(default)]
    pub context: Option<String>,
    /// When the deployment is ready. Default: the `dynamo` preset for a
    /// DynamoGraphDeployment, a rollout for a Deployment or StatefulSet, else condition `Ready`
    /// of the manifest's first object.
    #[serde(default)]
    pub ready: KubernetesReady,
    /// How sweeper and aiperf reach the server. Default for a DynamoGraphDeployment:
    /// service `<name>-frontend`, port 8000.
    #[serde(default)]
    pub reach: Option<KubernetesReach>,
    /// Path polled on the server once the objects are ready, until it answers 2xx. Default:
    /// base_config.health_check_endpoint, else `/v1/models` and the usual ones.
    #[serde(default)]
    pub health_path: Option<String>,
    /// Seconds to wait for readiness and health (Dynamo's own scripts wait 1800).
    #[serde(default = "default_k8s_startup_timeout")]
    #[schemars(range(min = 0.0))]
    pub startup_timeout_s: f64,
    /// Seconds between readiness checks.
    #[serde(default = "default_k8s_poll")]
    #[schemars(range(min = 0.05, max = 600.0))]
    pub poll_interval_s: f64,
    /// What happens when the setting is done: `delete` the objects and wait until they are
    /// gone, or `keep` them.
    #[serde(default)]
    pub teardown: KubernetesTeardown,
    /// Seconds to wait for the objects to be gone after a delete.
    #[serde(default = "default_k8s_delete_timeout")]
    #[schemars(range(min = 0.0))]
    pub delete_timeout_s: f64,
    /// Label selector of the deployment's pods (logs, image digests, nodes). Default for a
    /// DynamoGraphDeployment: `nvidia.com/dynamo-graph-deployment-name=<name>`; for a
    /// Deployment: its `spec.selector.matchLabels`.
    #[serde(default)]
    pub pod_selector: Option<String>,
    /// More Prometheus endpoints for aiperf's `--server-metrics` (e.g. Dynamo workers' system
    /// ports, which the frontend's `/metrics` does not show).
    #[serde(default)]
    pub metrics_urls: Vec<String>,
    /// The kubectl program.
    #[serde(default = "default_kubectl")]
    #[schemars(length(min = 1))]
    pub kubectl: String,
}

/// When a deployment is ready: one rule (a preset, a condition, a jsonpath value or a
/// rollout) on one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesReady {
    /// The object, `<kind>/<name>` as kubectl names it (`dgd/vllm-disagg`,
    /// `deployment/vllm`). Default: the manifest's first object.
    #[serde(default)]
    pub object: Option<String>,
    /// `dynamo`: condition `Ready` is `True` and `.status.state` is `successful` (what
    /// NVIDIA Dynamo's benchmark scripts wait for); a `failed` state fails at once.
    #[serde(default)]
    pub preset: Option<KubernetesPreset>,
    /// A condition type that must be `True` (`Ready`, `Available`).
    #[serde(default)]
    pub condition: Option<String>,
    /// A kubectl jsonpath (`{.status.state}`) whose value must equal `equals`.
    #[serde(default)]
    pub jsonpath: Option<String>,
    #[serde(default)]
    pub equals: Option<String>,
    /// A Deployment's (or StatefulSet's) rollout is complete: every replica updated and
    /// available (`kubectl rollout status`); a passed progress deadline fails at once.
    #[serde(default)]
    pub rollout: bool,
}

/// Readiness presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KubernetesPreset {
    Dynamo,
}

/// How the server is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesReach {
    /// The Service in front of the server.
    pub service: String,
    /// Its port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// `kubectl port-forward svc/<service> <local_port>:<port>` (a supervised child, restarted
    /// if it dies between runs). Default: `port`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    pub local_port: Option<u16>,
    /// sweeper runs inside the cluster (e.g. from `export k8s`): no port-forward, the Service's
    /// cluster DNS name `http://<service>.<namespace>.svc.cluster.local:<port>` is used.
    #[serde(default)]
    pub in_cluster: bool,
    /// The base URL to use instead (no port-forward): an ingress or a load balancer.
    #[serde(default)]
    pub url: Option<String>,
}

/// What happens to a deployment when its setting is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KubernetesTeardown {
    /// Delete the objects and wait until they are gone.
    #[default]
    Delete,
    /// Leave them running.
    Keep,
}

fn default_k8s_startup_timeout() -> f64 {
    1800.0
}
fn default_k8s_poll() -> f64 {
    5.0
}
fn default_k8s_delete_timeout() -> f64 {
    300.0
}
fn default_kubectl() -> String {
    "kubectl".into()
}
