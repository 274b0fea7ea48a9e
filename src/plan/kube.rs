//! A `kubernetes` server setting made concrete: its manifest rendered with the setting's
//! `vars`, the objects it declares, and the readiness rule, pod selector and URL that follow
//! from them (the defaults for a DynamoGraphDeployment and a Deployment). Pure: no `kubectl`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::config::raw::{KubernetesPreset, KubernetesServer};

/// Why a setting's manifest cannot be used (what is wrong and what to do).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

impl From<String> for ManifestError {
    fn from(s: String) -> Self {
        ManifestError(s)
    }
}

impl From<&str> for ManifestError {
    fn from(s: &str) -> Self {
        ManifestError(s.to_owned())
    }
}

/// One object of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// `kind` as written (`DynamoGraphDeployment`).
    pub kind: String,
    pub name: String,
    /// `apiVersion` (`nvidia.com/v1alpha1`).
    pub api_version: String,
}

impl Object {
    /// How kubectl names it: `dynamographdeployment.nvidia.com/NAME`, `deployment.apps/NAME`
    /// (the group keeps it unambiguous), `service/NAME`.
    pub fn reference(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        match self.api_version.split_once('/') {
            Some((group, _)) => format!("{kind}.{group}/{}", self.name),
            None => format!("{kind}/{}", self.name),
        }
    }
}

/// When the deployment is ready, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Condition `Ready` True and `.status.state` `successful`; state `failed` fails.
    Dynamo,
    /// A condition type that must be `True`.
    Condition(String),
    /// A jsonpath (`{.status.state}`) that must print `equals`.
    JsonPath { path: String, equals: String },
    /// A Deployment's or StatefulSet's rollout is complete.
    Rollout,
}

impl Rule {
    /// In words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Rule::Dynamo => "condition Ready=True and .status.state=successful".into(),
            Rule::Condition(c) => format!("condition {c}=True"),
            Rule::JsonPath { path, equals } => format!("{path}={equals}"),
            Rule::Rollout => "rollout complete (every replica updated and available)".into(),
        }
    }
}

/// How the server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// `kubectl port-forward svc/<service> <local>:<port>`, the server at
    /// `http://127.0.0.1:<local>`.
    Forward { service: String, port: u16, local: u16 },
    /// A URL reachable as is (in-cluster DNS, an ingress).
    Url(String),
}

/// A server setting, ready for `kubectl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The rendered manifest.
    pub manifest: String,
    pub objects: Vec<Object>,
    /// The object readiness is judged on, as kubectl names it.
    pub ready_object: String,
    pub rule: Rule,
    /// Label selector of its pods (`None`: logs and images are not collected).
    pub pod_selector: Option<String>,
    pub reach: Reach,
    /// `--namespace NS` and `--context C` when set.
    pub scope: Vec<String>,
    pub namespace: Option<String>,
}

/// `kubectl apply`'s arguments: server-side, the manifest on stdin.
pub const APPLY_ARGS: [&str; 6] =
    ["apply", "--server-side", "--field-manager=sweeper", "--force-conflicts", "-f", "-"];

impl Deployment {
    /// `kubectl <--namespace/--context> args`: a command on this deployment's cluster.
    pub fn kubectl(&self, kubectl: &str, args: &[String]) -> Vec<String> {
        std::iter::once(kubectl.to_owned())
            .chain(self.scope.iter().cloned())
            .chain(args.iter().cloned())
            .collect()
    }

    /// The objects, as kubectl names them.
    pub fn references(&self) -> Vec<String> {
        self.objects.iter().map(Object::reference).collect()
    }

    /// `kubectl delete`'s arguments for its objects: waiting up to `wait_s` seconds until they
    /// are gone, or (`None`) not waiting.
    pub fn delete_args(&self, wait_s: Option<u64>) -> Vec<String> {
        let mut args = vec!["delete".to_owned(), "--ignore-not-found".into()];
        match wait_s {
            Some(s) => args.extend(["--wait=true".into(), format!("--timeout={}s", s.max(1))]),
            None => args.push("--wait=false".into()),
        }
        args.extend(self.references());
        args
    }

    /// `kubectl port-forward`'s arguments, when the server is reached that way.
    pub fn forward_args(&self) -> Option<Vec<String>> {
        let Reach::Forward { service, port, local } = &self.reach else { return None };
        Some(vec!["port-forward".into(), format!("svc/{service}"), format!("{local}:{port}")])
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        match &self.reach {
            Reach::Forward { local, .. } => format!("http://127.0.0.1:{local}"),
            Reach::Url(u) => u.clone(),
        }
    }
}

/// The port of a DynamoGraphDeployment's frontend service (`<name>-frontend`).
const DGD_FRONTEND_PORT: u16 = 8000;

/// The namespace shown in URLs when none is set.
const DEFAULT_NAMESPACE: &str = "default";

/// The URL of a server in the cluster (no manifest needed): for planning aiperf's `--url`.
/// Without `reach`, a DynamoGraphDeployment's frontend forwarded to port 8000.
pub fn url_of(k: &KubernetesServer) -> Option<String> {
    let Some(reach) = k.reach.as_ref() else {
        return Some(format!("http://127.0.0.1:{DGD_FRONTEND_PORT}"));
    };
    Some(match (&reach.url, reach.in_cluster) {
        (Some(u), _) => u.clone(),
        (None, true) => in_cluster_url(&reach.service, k.namespace.as_deref(), reach.port),
        (None, false) => format!("http://127.0.0.1:{}", reach.local_port.unwrap_or(reach.port)),
    })
}

fn in_cluster_url(service: &str, namespace: Option<&str>, port: u16) -> String {
    format!("http://{service}.{}.svc.cluster.local:{port}", namespace.unwrap_or(DEFAULT_NAMESPACE))
}

/// Renders the manifest of setting `k` (read from `k.manifest`) and resolves its defaults.
/// `Err` says what is wrong and what to do.
pub fn deployment(
    k: &KubernetesServer,
    batch_name: &str,
    server_id: &str,
) -> Result<Deployment, ManifestError> {
    let source = std::fs::read_to_string(&k.manifest).map_err(|e| {
        let from = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
        format!(
            "failed to read the manifest `{}`: {e} (a relative path is read from the directory sweeper was started in, `{from}`: run sweeper from the repository, or give an absolute path)",
            k.manifest.display()
        )
    })?;
    deployment_from(k, &source, batch_name, server_id)
}

/// As [`deployment`], with the manifest's text.
pub fn deployment_from(
    k: &KubernetesServer,
    source: &str,
    batch_name: &str,
    server_id: &str,
) -> Result<Deployment, ManifestError> {
    let file = k.manifest.display().to_string();
    let manifest = render(source, &k.vars, k.namespace.as_deref(), batch_name, server_id)
        .map_err(|e| format!("failed to render the manifest `{file}`: {e:#}"))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&manifest)
        .map_err(|e| format!("the manifest `{file}`, rendered, is not valid YAML: {e}"))?;
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    let objects = docs.iter().map(|d| object_of(d, &file)).collect::<Result<Vec<_>, _>>()?;
    let (Some(first), Some(first_doc)) = (objects.first(), docs.first()) else {
        return Err(format!("the manifest `{file}` declares no object").into());
    };
    let ready_object = k.ready.object.clone().unwrap_or_else(|| first.reference());
    let ready_kind = match &k.ready.object {
        Some(o) => objects.iter().find(|x| names(x, o)).unwrap_or(first),
        None => first,
    };
    let rule = rule_of(k, ready_kind)?;
    let pod_selector = match &k.pod_selector {
        Some(s) => Some(s.clone()),
        None if is_dgd(first) => {
            Some(format!("nvidia.com/dynamo-graph-deployment-name={}", first.name))
        }
        None if is_workload(first) => match_labels(first_doc),
        None => None,
    };
    let reach = reach_of(k, first, &file)?;
    let mut scope = Vec::new();
    if let Some(ns) = &k.namespace {
        scope.extend(["--namespace".to_owned(), ns.clone()]);
    }
    if let Some(c) = &k.context {
        scope.extend(["--context".to_owned(), c.clone()]);
    }
    Ok(Deployment {
        manifest,
        objects,
        ready_object,
        rule,
        pod_selector,
        reach,
        scope,
        namespace: k.namespace.clone(),
    })
}

fn is_dgd(o: &Object) -> bool {
    o.kind == "DynamoGraphDeployment"
}

fn is_workload(o: &Object) -> bool {
    matches!(o.kind.as_str(), "Deployment" | "StatefulSet")
}

/// One document of the manifest as an [`Object`].
fn object_of(d: &Value, file: &str) -> Result<Object, ManifestError> {
    let field = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = field("kind").ok_or(format!("an object of `{file}` has no `kind`"))?;
    let name = d["metadata"]["name"]
        .as_str()
        .ok_or(format!("the {kind} of `{file}` has no `metadata.name`"))?
        .to_owned();
    let api_version = field("apiVersion")
        .ok_or(format!("the {kind} `{name}` of `{file}` has no `apiVersion`"))?;
    Ok(Object { kind, name, api_version })
}

/// The readiness rule: the one `ready` names, else the default for the object's kind.
fn rule_of(k: &KubernetesServer, ready_kind: &Object) -> Result<Rule, ManifestError> {
    let r = &k.ready;
    let chosen = [r.preset.is_some(), r.condition.is_some(), r.jsonpath.is_some(), r.rollout]
        .iter()
        .filter(|b| **b)
        .count();
    if chosen > 1 {
        return Err("`server.ready` names more than one rule: give one of `preset`, `condition`, `jsonpath` (with `equals`) or `rollout`".into());
    }
    Ok(match (&r.preset, &r.condition, &r.jsonpath, r.rollout) {
        (Some(KubernetesPreset::Dynamo), ..) => Rule::Dynamo,
        (_, Some(c), ..) => Rule::Condition(c.clone()),
        (_, _, Some(p), _) => Rule::JsonPath {
            path: p.clone(),
            equals: r.equals.clone().ok_or(ManifestError::from(
                "`server.ready.jsonpath` needs `equals`, the value that means ready",
            ))?,
        },
        (.., true) => Rule::Rollout,
        _ if is_dgd(ready_kind) => Rule::Dynamo,
        _ if is_workload(ready_kind) => Rule::Rollout,
        _ => Rule::Condition("Ready".into()),
    })
}

/// How the server is reached: `reach`, else a DynamoGraphDeployment's frontend forwarded.
fn reach_of(k: &KubernetesServer, first: &Object, file: &str) -> Result<Reach, ManifestError> {
    Ok(match &k.reach {
        Some(reach) => match (&reach.url, reach.in_cluster) {
            (Some(u), _) => Reach::Url(u.clone()),
            (None, true) => {
                Reach::Url(in_cluster_url(&reach.service, k.namespace.as_deref(), reach.port))
            }
            (None, false) => Reach::Forward {
                service: reach.service.clone(),
                port: reach.port,
                local: reach.local_port.unwrap_or(reach.port),
            },
        },
        None if is_dgd(first) => Reach::Forward {
            service: format!("{}-frontend", first.name),
            port: DGD_FRONTEND_PORT,
            local: DGD_FRONTEND_PORT,
        },
        None => {
            return Err(format!(
                "`server.reach` is needed: how to reach the server that `{file}` deploys (a {} is not a DynamoGraphDeployment, whose frontend service sweeper knows)",
                first.kind
            )
            .into());
        }
    })
}

/// Whether `reference` (`dgd/x`, `deployment.apps/x`, `Deployment/x`) names object `o`.
/// kubectl's short names of the kinds whose readiness sweeper knows.
const SHORT_NAMES: [(&str, &str); 3] =
    [("dgd", "dynamographdeployment"), ("deploy", "deployment"), ("sts", "statefulset")];

fn names(o: &Object, reference: &str) -> bool {
    let Some((kind, name)) = reference.split_once('/') else { return false };
    let kind = kind.split('.').next().unwrap_or(kind).to_ascii_lowercase();
    let own = o.kind.to_ascii_lowercase();
    let long = SHORT_NAMES.iter().find(|(s, _)| *s == kind).map_or(kind.as_str(), |(_, l)| l);
    name == o.name && (long == own || long.strip_suffix('s') == Some(own.as_str()))
}

/// A Deployment's `spec.selector.matchLabels` as a selector (`a=b,c=d`).
fn match_labels(doc: &Value) -> Option<String> {
    let labels = doc["spec"]["selector"]["matchLabels"].as_object()?;
    let parts: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The manifest template rendered (strict: an undefined variable is an error).
fn render(
    source: &str,
    vars: &BTreeMap<String, Value>,
    namespace: Option<&str>,
    batch_name: &str,
    server_id: &str,
) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.add_template("manifest", source)?;
    env.get_template("manifest")?.render(minijinja::context! {
        vars => vars,
        namespace => namespace.unwrap_or(DEFAULT_NAMESPACE),
        batch_name => batch_name,
        server_id => server_id,
    })
}

/// The name of a setting's rendered manifest in the batch directory.
pub fn manifest_name(server_id: &str) -> String {
    format!("{server_id}.k8s.yaml")
}

/// Where a setting's rendered manifest is kept in the batch directory.
pub fn manifest_file(batch_dir: &Path, server_id: &str) -> std::path::PathBuf {
    batch_dir.join(manifest_name(server_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(yaml: &str) -> KubernetesServer {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const DGD: &str = "apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata:\n  name: qwen-{{ vars.kv_backend | lower }}\nspec:\n  services:\n    VllmDecodeWorker:\n      extraPodSpec:\n        mainContainer:\n          args: [\"--kv-transfer-config\", '{\"kv_connector\":\"NixlConnector\",\"kv_connector_extra_config\":{\"backends\":[\"{{ vars.kv_backend }}\"]}}']\n";

    #[test]
    fn a_dgd_gets_the_dynamo_rule_its_frontend_and_its_pods() {
        let k = server("manifest: m.yaml\nvars: {kv_backend: LIBFABRIC}\nnamespace: bench\n");
        let d = deployment_from(&k, DGD, "b", "server-1").unwrap();
        assert_eq!(d.objects[0].name, "qwen-libfabric");
        assert!(
            d.manifest.contains(r#"\"backends\":[\"LIBFABRIC\"]"#)
                || d.manifest.contains(r#""backends":["LIBFABRIC"]"#)
        );
        assert_eq!(d.ready_object, "dynamographdeployment.nvidia.com/qwen-libfabric");
        assert_eq!(d.rule, Rule::Dynamo);
        assert_eq!(
            d.pod_selector.as_deref(),
            Some("nvidia.com/dynamo-graph-deployment-name=qwen-libfabric")
        );
        assert_eq!(
            d.reach,
            Reach::Forward { service: "qwen-libfabric-frontend".into(), port: 8000, local: 8000 }
        );
        assert_eq!(d.url(), "http://127.0.0.1:8000");
        assert_eq!(d.scope, ["--namespace", "bench"]);
    }

    #[test]
    fn a_deployment_gets_a_rollout_and_its_match_labels() {
        let m = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: vllm}\nspec:\n  selector: {matchLabels: {app: vllm}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: vllm}\n";
        let k = server("manifest: m.yaml\nreach: {service: vllm, port: 8000, in_cluster: true}\n");
        let d = deployment_from(&k, m, "b", "s").unwrap();
        assert_eq!(d.rule, Rule::Rollout);
        assert_eq!(d.ready_object, "deployment.apps/vllm");
        assert_eq!(d.pod_selector.as_deref(), Some("app=vllm"));
        assert_eq!(d.url(), "http://vllm.default.svc.cluster.local:8000");
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[1].reference(), "service/vllm");
        // `ready.object` by kubectl's names: kind, plural, short name, with a group.
        for r in ["deployment/vllm", "deployments/vllm", "deploy/vllm", "deployment.apps/vllm"] {
            assert!(names(&d.objects[0], r), "{r}");
        }
        assert!(!names(&d.objects[0], "service/vllm") && !names(&d.objects[0], "deploy/other"));
    }

    #[test]
    fn mistakes_are_named() {
        let k = server("manifest: m.yaml\n");
        let e = deployment_from(&k, DGD, "b", "s").unwrap_err().0;
        assert!(e.contains("undefined"), "{e}");
        let k = server(
            "manifest: m.yaml\nready: {jsonpath: '{.status.state}'}\nvars: {kv_backend: UCX}\n",
        );
        assert!(deployment_from(&k, DGD, "b", "s").unwrap_err().0.contains("needs `equals`"));
        let k = server(
            "manifest: m.yaml\nready: {rollout: true, condition: Ready}\nvars: {kv_backend: UCX}\n",
        );
        assert!(deployment_from(&k, DGD, "b", "s").unwrap_err().0.contains("more than one rule"));
        let k = server("manifest: m.yaml\n");
        let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n";
        assert!(
            deployment_from(&k, svc, "b", "s").unwrap_err().0.contains("`server.reach` is needed")
        );
        assert!(deployment_from(&k, "", "b", "s").unwrap_err().0.contains("declares no object"));
    }
}
