//! A `kubernetes` server's life on the cluster, through `kubectl`: a supervised sentinel that
//! deletes the objects if sweeper dies (even by `kill -9`), `apply` of the rendered manifest,
//! the readiness rule polled until it holds (or fails, or times out), a supervised
//! `kubectl port-forward` (restarted when it dies between runs), what ran (image digests, node
//! GPU types, pod logs), and `delete` waiting until the objects are gone.
//!
//! `kubectl` finds the cluster and its credentials itself (`KUBECONFIG`, the default
//! kubeconfig, or a pod's service account): nothing secret is passed in its arguments, and the
//! manifest reaches it on stdin.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::kube_ready::{self, Verdict};
use super::process;
use super::server::ServerError;
use super::supervise::Supervision;
use crate::config::raw::{KubernetesServer, KubernetesTeardown};
use crate::plan::kube::{Deployment, Reach, Rule};
use crate::records::{KubeIdentity, KubeImage, KubeNode};
use crate::util::redact::Redactor;

/// Longest a single kubectl call (other than waits it is told about) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a new port-forward has to accept connections.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Pod log lines shown in an error.
const ERROR_LOG_LINES: usize = 10;

/// A deployment sweeper made (or is making).
pub struct Kube {
    pub id: String,
    pub dep: Deployment,
    kubectl: String,
    /// `<server_id>.log` in the batch directory: every kubectl command and its output.
    log: PathBuf,
    /// `<server_id>.pods.log`: the pods' logs, collected before the objects are deleted.
    pods_log: PathBuf,
    sentinel: Option<(Child, i32)>,
    /// `kubectl apply` succeeded (a teardown then has something to delete).
    applied: bool,
    forward: Option<(Child, i32)>,
    teardown: KubernetesTeardown,
    delete_timeout: Duration,
    sup: Supervision,
    redactor: Redactor,
}

/// What kubectl answered.
struct Answer {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kube {
    /// The sentinel and the manifest's copy; nothing is applied yet.
    pub fn new(
        k: &KubernetesServer,
        dep: Deployment,
        id: &str,
        batch_dir: &Path,
        sup: Supervision,
        redactor: &Redactor,
    ) -> Result<Kube, ServerError> {
        let file = crate::plan::kube::manifest_file(batch_dir, id);
        crate::records::write_derived(&file, redactor.redact(&dep.manifest).as_bytes())
            .map_err(|e| format!("failed to write `{}`: {e}", file.display()))?;
        Ok(Kube {
            id: id.to_owned(),
            dep,
            kubectl: k.kubectl.clone(),
            log: batch_dir.join(format!("{id}.log")),
            pods_log: batch_dir.join(format!("{id}.pods.log")),
            sentinel: None,
            applied: false,
            forward: None,
            teardown: k.teardown,
            delete_timeout: super::aiperf::secs(k.delete_timeout_s),
            sup,
            redactor: redactor.clone(),
        })
    }

    /// `<server_id>.log`: kubectl's commands and output.
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// `kubectl <scope> args` (with `stdin`), its output appended to the server log.
    async fn call(&self, args: &[String], stdin: Option<&str>, timeout: Duration) -> Answer {
        let mut cmd = Command::new(&self.kubectl);
        cmd.args(&self.dep.scope)
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = crate::plan::argv::shell_line(&self.dep.kubectl(&self.kubectl, args));
        let answer = async {
            let mut child =
                cmd.spawn().map_err(|e| format!("failed to run `{}`: {e}", self.kubectl))?;
            if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
                let _ = pipe.write_all(text.as_bytes()).await;
            }
            let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(Answer {
                ok: out.status.success(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        };
        let a = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Answer { ok: false, stdout: String::new(), stderr: e },
            Err(_) => Answer {
                ok: false,
                stdout: String::new(),
                stderr: format!("timed out after {:.0}s", timeout.as_secs_f64()),
            },
        };
        // The log keeps what each call did; `get -o json` answers are long, and left out.
        let quiet = args.iter().any(|a| a == "json" || a == "logs");
        let mut text = format!("$ {shown}\n");
        if !quiet {
            text.push_str(&a.stdout);
        }
        text.push_str(&a.stderr);
        self.append(&self.log, &text);
        a
    }

    fn append(&self, path: &Path, text: &str) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(self.redactor.redact(text).as_bytes());
        }
    }

    /// Starts the sentinel: a supervised `sleep infinity` whose supervisor deletes the objects
    /// if sweeper dies before it deletes them itself (none with `teardown: keep`).
    pub fn start_sentinel(&mut self) -> Result<i32, ServerError> {
        if self.teardown == KubernetesTeardown::Keep {
            return Ok(0);
        }
        let on_exit = self.dep.kubectl(&self.kubectl, &self.dep.delete_args(None));
        let program = ["sleep".to_owned(), "infinity".to_owned()];
        let mut cmd = self.sup.command(&program, Duration::from_secs(1), Some(&on_exit));
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child =
            cmd.spawn().map_err(|e| format!("failed to start the deployment's sentinel: {e}"))?;
        let pgid = child.id().map_or(0, |p| p.cast_signed());
        self.sentinel = Some((child, pgid));
        Ok(pgid)
    }

    /// `kubectl apply` of the manifest (server-side, on stdin).
    pub async fn apply(&mut self) -> Result<(), ServerError> {
        let args = crate::plan::kube::APPLY_ARGS.map(str::to_owned);
        let a = self.call(&args, Some(&self.dep.manifest), CALL_TIMEOUT).await;
        if !a.ok {
            let context = match self.dep.scope.iter().position(|s| s == "--context") {
                Some(i) => format!("context `{}`", self.dep.scope[i + 1]),
                None => "the current context of KUBECONFIG (or ~/.kube/config)".to_owned(),
            };
            return Err(ServerError(format!(
                "`kubectl apply` failed: {}; check that kubectl reaches the cluster of {context} (`kubectl cluster-info`) and may create these objects",
                a.stderr.trim()
            )));
        }
        self.applied = true;
        Ok(())
    }

    /// One look at the readiness rule.
    async fn look(&self) -> Verdict {
        let obj = self.dep.ready_object.clone();
        if let Rule::JsonPath { path, equals } = &self.dep.rule {
            let a = self
                .call(
                    &["get".into(), obj, "-o".into(), format!("jsonpath={path}")],
                    None,
                    CALL_TIMEOUT,
                )
                .await;
            return if a.ok {
                kube_ready::jsonpath(&a.stdout, equals)
            } else {
                Verdict::Waiting(a.stderr.trim().to_owned())
            };
        }
        let a =
            self.call(&["get".into(), obj, "-o".into(), "json".into()], None, CALL_TIMEOUT).await;
        match serde_json::from_str::<Value>(&a.stdout) {
            Ok(v) if a.ok => kube_ready::judge(&self.dep.rule, &v),
            _ => Verdict::Waiting(a.stderr.trim().to_owned()),
        }
    }

    /// Polls the readiness rule every `poll` until it holds. Fails when it cannot hold, after
    /// `timeout`, or on Ctrl-C; the error shows the object's status and its pods' last lines.
    pub async fn wait_ready(
        &self,
        poll: Duration,
        timeout: Duration,
        interrupts: &mut watch::Receiver<usize>,
    ) -> Result<Duration, ServerError> {
        let start = Instant::now();
        loop {
            let verdict = tokio::select! {
                v = self.look() => v,
                _ = interrupts.changed() => return Err("interrupted".into()),
            };
            match verdict {
                Verdict::Ready => return Ok(start.elapsed()),
                Verdict::Failed(why) => {
                    return Err(ServerError(format!(
                        "`{}` will not become ready: {why}{}",
                        self.dep.ready_object,
                        self.pod_tail().await
                    )));
                }
                Verdict::Waiting(status) if start.elapsed() >= timeout => {
                    return Err(ServerError(format!(
                        "`{}` not ready within {:.0}s ({}); its status: {status}{}",
                        self.dep.ready_object,
                        timeout.as_secs_f64(),
                        self.dep.rule.describe(),
                        self.pod_tail().await
                    )));
                }
                Verdict::Waiting(_) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = interrupts.changed() => return Err("interrupted".into()),
            }
        }
    }

    /// `; last lines of its pods: ...` for an error (empty without a pod selector or logs).
    async fn pod_tail(&self) -> String {
        let Some(sel) = &self.dep.pod_selector else { return String::new() };
        let args = [
            "logs",
            "-l",
            sel,
            "--all-containers",
            "--prefix",
            "--tail",
            &ERROR_LOG_LINES.to_string(),
        ]
        .map(str::to_owned);
        let a = self.call(&args, None, CALL_TIMEOUT).await;
        let lines: Vec<&str> = a.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return String::new();
        }
        format!("; last lines of its pods:\n    {}", lines.join("\n    "))
    }

    /// Starts `kubectl port-forward` (when the server is reached that way) and waits until the
    /// local port accepts connections. Returns the forward's process group (0: none).
    pub async fn forward(&mut self) -> Result<i32, ServerError> {
        let Reach::Forward { service, port, local } = self.dep.reach.clone() else { return Ok(0) };
        let program = self.dep.kubectl(&self.kubectl, &self.dep.forward_args().unwrap_or_default());
        self.append(&self.log, &format!("$ {}\n", crate::plan::argv::shell_line(&program)));
        let open = |p: &Path| std::fs::OpenOptions::new().create(true).append(true).open(p);
        let (out, err) = match (open(&self.log), open(&self.log)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                return Err(ServerError(format!("failed to open `{}`: {e}", self.log.display())));
            }
        };
        let mut cmd = self.sup.command(&program, Duration::from_secs(2), None);
        cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let mut child =
            cmd.spawn().map_err(|e| format!("failed to start `kubectl port-forward`: {e}"))?;
        let pgid = child.id().map_or(0, |p| p.cast_signed());
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                process::stop_group(&mut child, pgid, Duration::from_secs(1)).await;
                return Err(ServerError(format!(
                    "`kubectl port-forward svc/{service} {local}:{port}` exited ({}); last lines of `{}`: {}",
                    process::describe_status(&st),
                    self.log.display(),
                    process::tail(&self.log, 5)
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", local)).await.is_ok() {
                break;
            }
            if start.elapsed() >= FORWARD_TIMEOUT {
                process::stop_group(&mut child, pgid, Duration::from_secs(1)).await;
                return Err(ServerError(format!(
                    "`kubectl port-forward svc/{service} {local}:{port}` did not open 127.0.0.1:{local} within {}s",
                    FORWARD_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.forward = Some((child, pgid));
        Ok(pgid)
    }

    /// `Some(why)` when the port-forward has exited.
    pub fn forward_exited(&mut self) -> Option<String> {
        let (child, _) = self.forward.as_mut()?;
        match child.try_wait() {
            Ok(Some(st)) => {
                Some(format!("kubectl port-forward exited ({})", process::describe_status(&st)))
            }
            _ => None,
        }
    }

    /// Resolves when the port-forward exits (never without one).
    pub async fn forward_died(&mut self) -> String {
        match self.forward.as_mut() {
            Some((child, _)) => match child.wait().await {
                Ok(st) => format!(
                    "kubectl port-forward exited ({}): the server was lost mid-run",
                    process::describe_status(&st)
                ),
                Err(e) => e.to_string(),
            },
            None => std::future::pending().await,
        }
    }

    /// Stops the port-forward, if any; returns its process group.
    pub async fn stop_forward(&mut self) -> i32 {
        match self.forward.take() {
            Some((mut child, pgid)) => {
                process::stop_group(&mut child, pgid, Duration::from_secs(2)).await;
                pgid
            }
            None => 0,
        }
    }

    /// The port-forward's process group (0: none).
    pub fn forward_pgid(&self) -> i32 {
        self.forward.as_ref().map_or(0, |(_, p)| *p)
    }

    /// What the deployment runs on: its pods' images (with digests) and nodes' GPU types,
    /// as far as the cluster shows them.
    pub async fn identity(&self) -> KubeIdentity {
        let mut id = KubeIdentity {
            objects: self.dep.references(),
            manifest_file: crate::plan::kube::manifest_name(&self.id),
            images: Vec::new(),
            nodes: Vec::new(),
        };
        let Some(sel) = &self.dep.pod_selector else { return id };
        let a = self
            .call(
                &[
                    "get".into(),
                    "pods".into(),
                    "-l".into(),
                    sel.clone(),
                    "-o".into(),
                    "json".into(),
                ],
                None,
                CALL_TIMEOUT,
            )
            .await;
        let pods: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
        let mut node_names = std::collections::BTreeSet::new();
        for p in pods["items"].as_array().into_iter().flatten() {
            let pod = p["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            if let Some(n) = p["spec"]["nodeName"].as_str() {
                node_names.insert(n.to_owned());
            }
            for c in p["status"]["containerStatuses"].as_array().into_iter().flatten() {
                id.images.push(KubeImage {
                    pod: pod.clone(),
                    container: c["name"].as_str().unwrap_or_default().to_owned(),
                    image: c["image"].as_str().unwrap_or_default().to_owned(),
                    image_id: c["imageID"].as_str().filter(|s| !s.is_empty()).map(str::to_owned),
                });
            }
        }
        if node_names.is_empty() {
            return id;
        }
        // Reading nodes may be forbidden to a namespaced user: then there are none to show.
        let a = self
            .call(&["get".into(), "nodes".into(), "-o".into(), "json".into()], None, CALL_TIMEOUT)
            .await;
        let nodes: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
        for n in nodes["items"].as_array().into_iter().flatten() {
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            if !node_names.contains(name) {
                continue;
            }
            let label = |k: &str| n["metadata"]["labels"][k].as_str().map(str::to_owned);
            id.nodes.push(KubeNode {
                name: name.to_owned(),
                gpu_product: label("nvidia.com/gpu.product"),
                gpu_count: label("nvidia.com/gpu.count"),
            });
        }
        id
    }

    /// What [`Kube::teardown`] will wait for, in words (`None` when it deletes nothing that
    /// was applied).
    pub fn teardown_plan(&self) -> Option<String> {
        (self.applied && self.teardown == KubernetesTeardown::Delete).then(|| {
            format!(
                "deleting {} and waiting until it is gone (at most {}s)",
                self.dep.references().join(", "),
                self.delete_timeout.as_secs()
            )
        })
    }

    /// Collects the pods' logs into `<server_id>.pods.log`, then (unless `teardown: keep`)
    /// deletes the objects and waits until they are gone; stops the port-forward and the
    /// sentinel. Returns a warning when the delete did not finish.
    pub async fn teardown(&mut self) -> Option<String> {
        self.stop_forward().await;
        if let Some(sel) = self.dep.pod_selector.clone() {
            let args =
                ["logs", "-l", &sel, "--all-containers", "--prefix", "--tail=-1", "--timestamps"]
                    .map(str::to_owned);
            let a = self.call(&args, None, CALL_TIMEOUT).await;
            self.append(
                &self.pods_log,
                &format!(
                    "--- sweeper: pods of {} ({sel}) at {} ---\n{}",
                    self.id,
                    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S"),
                    a.stdout
                ),
            );
        }
        let mut warning = None;
        if self.teardown == KubernetesTeardown::Delete {
            let args = self.dep.delete_args(Some(self.delete_timeout.as_secs()));
            let a = self.call(&args, None, self.delete_timeout + CALL_TIMEOUT).await;
            if !a.ok {
                warning = Some(format!(
                    "{}: deleting its objects did not finish: {}; check with `{} get {}` and delete what is left",
                    self.id,
                    a.stderr.trim(),
                    self.kubectl,
                    self.dep.references().join(" ")
                ));
            }
        }
        // The sentinel goes last: stopped by sweeper (alive), its supervisor deletes nothing.
        if let Some((mut child, pgid)) = self.sentinel.take() {
            process::stop_group(&mut child, pgid, Duration::from_secs(1)).await;
        }
        warning
    }
}
