//! The `kubernetes` server kind end to end, with the REAL `kubectl` (it must be on PATH: a
//! missing kubectl FAILS these tests, it does not skip them; `scripts/test.sh` installs it) and
//! sweeper's own process supervision, against `tests/fixtures/k8s/mock_apiserver.py`: an
//! in-memory Kubernetes API server with a fake controller that gives DynamoGraphDeployments and
//! Deployments pods, image digests, a GPU node and a status that becomes ready, never does, or
//! fails, per object annotation (`mock.sweeper/behavior`). It logs every request, so the tests
//! check what sweeper made kubectl do to the cluster, in order: apply, readiness polls, delete.
//!
//! Each test has its own API server, kubeconfig and `KUBECONFIG` / `KUBECACHEDIR` / `HOME` in a
//! temp dir: `~/.kube` is never read or written. The "inference server" behind a deployment is
//! `sweeper mock-server` on 127.0.0.1, reached by `reach.url` (as an in-cluster URL would be) or,
//! in the port-forward test, through a stand-in for `kubectl port-forward`.
//!
//! Limits: no cluster can run here (no container runtime, no GPUs), so nothing is scheduled and
//! no image is pulled; the API server is the test double, and what it does not model (admission,
//! real controllers, RBAC, `kubectl port-forward`'s streaming upgrade) is not tested. Real aiperf
//! runs in the two tests that need it (4 runs); the others use the fake aiperf and never get as
//! far as running it. The whole file takes about 35 s on 2 cores (45 s with one test thread).
//!
//! A real cluster: `two_settings_are_applied_waited_for_run_and_deleted` is the one that could
//! run against one (`SWEEPER_TEST_KUBECONFIG` pointing at its kubeconfig, with the Dynamo
//! operator installed), but not as written: it would need a manifest with a real runtime image,
//! model and GPU requests, `reach` by port-forward to the frontend instead of the mock's URL, the
//! request-log assertions replaced by `kubectl get` checks (no log of the cluster's requests), and
//! minutes-long timeouts. That is a separate test, not implemented here.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::mock::MockProcess;
use common::stub::{fake_aiperf, fake_artifacts};
use common::*;
use serde_json::Value;

/// The k8s fixtures: the API server, the DGD template, the kubectl stand-in.
fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/k8s").join(name)
}

/// One request the API server logged (`--log-file`).
#[derive(Debug, Clone)]
struct Req {
    method: String,
    /// `apply` (a server-side apply PATCH), `get`, `list`, `watch`, `delete`, `get/log`...
    verb: String,
    kind: String,
    name: String,
    code: u64,
}

impl std::fmt::Display for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}/{} -> {}", self.method, self.verb, self.kind, self.name, self.code)
    }
}

/// The requests, one per line, for assertion messages.
fn shown(reqs: &[Req]) -> String {
    reqs.iter().map(|r| format!("  {r}\n")).collect()
}

/// A test's cluster: the mock API server on an ephemeral port, a kubeconfig pointing at it, and
/// a temp dir holding both (and `home/`, the kube cache, the outputs). Dropped: the server is
/// stopped and the dir removed.
struct Cluster {
    api: Option<Child>,
    port: u16,
    tmp: tempfile::TempDir,
}

impl Cluster {
    /// Starts the API server with `--ready-after ready_after` (seconds until an object's pods are
    /// ready, or failed). Fails at once when kubectl is missing.
    fn start(ready_after: f64) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("home")).unwrap();
        let mut c = Cluster { api: None, port: 0, tmp };
        // kubectl first: without it nothing here can work, and the failure must say why.
        let version = c.kubectl_cmd(&["version", "--client"]).output();
        match version {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "`kubectl version --client` failed ({}): tests/kubernetes.rs drives the real \
                 kubectl against a test API server, so kubectl must be on PATH; scripts/test.sh \
                 installs it (Debian: `apt-get install kubernetes-client`)",
                match other {
                    Ok(o) => text(&o),
                    Err(e) => e.to_string(),
                }
            ),
        }
        let port_file = c.dir().join("apiserver.port");
        let err = File::create(c.dir().join("apiserver.err")).unwrap();
        c.api = Some(
            Command::new("python3")
                .arg(fixture("mock_apiserver.py"))
                .args(["--port", "0", "--port-file"])
                .arg(&port_file)
                .arg("--log-file")
                .arg(c.requests_file())
                .args(["--ready-after", &ready_after.to_string(), "--delete-delay", "0.5"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .expect("python3 runs tests/fixtures/k8s/mock_apiserver.py"),
        );
        let port = || std::fs::read_to_string(&port_file).ok()?.trim().parse::<u16>().ok();
        assert!(
            wait_for(Duration::from_secs(30), || port().is_some()),
            "the mock API server wrote no port file: {}",
            std::fs::read_to_string(c.dir().join("apiserver.err")).unwrap_or_default()
        );
        c.port = port().unwrap();
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: mock\n  user:\n    token: dummy-token\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n    namespace: default\ncurrent-context: mock\n",
            c.port
        );
        std::fs::write(c.dir().join("kubeconfig"), kubeconfig).unwrap();
        c
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn requests_file(&self) -> PathBuf {
        self.dir().join("requests.jsonl")
    }

    /// `cmd` pointed at this cluster, with ~/.kube out of reach.
    fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("KUBECONFIG", self.dir().join("kubeconfig"))
            .env("KUBECACHEDIR", self.dir().join("kube-cache"))
            .env("HOME", self.dir().join("home"))
    }

    fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.args(args).stdin(Stdio::null());
        self.env(&mut c);
        c
    }

    /// `kubectl --namespace bench ARGS`, which must succeed.
    fn kubectl(&self, args: &[&str]) -> Output {
        let o = self.kubectl_cmd(&[&["--namespace", "bench"], args].concat()).output().unwrap();
        assert!(o.status.success(), "kubectl {args:?}: {}", text(&o));
        o
    }

    /// `kubectl get KIND -o json`'s items in namespace bench.
    fn items(&self, kind: &str) -> Vec<Value> {
        let o = self.kubectl(&["get", kind, "-o", "json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// The requests of the resources (not discovery) so far, in the order served.
    fn requests(&self) -> Vec<Req> {
        let text = std::fs::read_to_string(self.requests_file()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["kind"].is_string())
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                Req {
                    method: s("method"),
                    verb: s("verb"),
                    kind: s("kind"),
                    name: s("name"),
                    code: v["code"].as_u64().unwrap_or(0),
                }
            })
            .collect()
    }

    /// Whether a request like `want` (verb, kind, name) was served, within `t`.
    fn saw(&self, t: Duration, verb: &str, kind: &str, name: &str) -> bool {
        wait_for(t, || {
            self.requests().iter().any(|r| r.verb == verb && r.kind == kind && r.name == name)
        })
    }

    /// A sweeper writing its output to `<dir>/sweeper.out`, with this cluster's environment.
    fn sweeper(&self, cfg: &Path, env: &[(&str, String)]) -> Sweep {
        let out = self.dir().join("sweeper.out");
        let f = File::create(&out).unwrap();
        let mut cmd = sweeper();
        cmd.arg("-c")
            .arg(cfg)
            .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f);
        self.env(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Sweep { child: cmd.spawn().expect("spawn sweeper"), out }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut api) = self.api.take() {
            unsafe { libc::kill(api.id() as i32, libc::SIGTERM) };
            if !wait_for(Duration::from_secs(5), || api.try_wait().ok().flatten().is_some()) {
                let _ = api.kill();
            }
            let _ = api.wait();
        }
    }
}

/// A running sweeper; killed (SIGKILL: its supervisors clean up after it) if a test fails first.
struct Sweep {
    child: Child,
    out: PathBuf,
}

impl Sweep {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// What it printed so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits up to `t` for it to exit (panics, showing its output, if it does not).
    fn wait(&mut self, t: Duration) -> ExitStatus {
        let mut st = None;
        wait_for(t, || {
            st = self.child.try_wait().unwrap();
            st.is_some()
        });
        st.unwrap_or_else(|| panic!("sweeper still runs after {t:?}:\n{}", self.log()))
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `server:` section of a DGD setting from `dgd-template.yaml`: namespace bench, polled
/// every 0.2 s, reached at `url` (as an in-cluster URL would be: no port-forward).
fn dgd_server(behavior: &str, startup_timeout_s: u32, url: &str) -> String {
    format!(
        "server:\n  kind: kubernetes\n  manifest: {}\n  namespace: bench\n  poll_interval_s: 0.2\n  startup_timeout_s: {startup_timeout_s}\n  vars: {{kv_backend: UCX, behavior: {behavior}}}\n  reach: {{service: vllm-disagg-frontend, port: 8000, url: '{url}'}}\n",
        fixture("dgd-template.yaml").display()
    )
}

/// A config of batch `k8s` under `<dir>/out` that never gets to run aiperf (the fake one, so no
/// venv is needed): `server` as given, one combination.
fn fake_aiperf_config(k: &Cluster, server: &str) -> PathBuf {
    let yaml = format!(
        "batch_name: k8s\noutput_base_dir: {}\n{server}aiperf:\n  executable: {}\n  stop_grace_s: 1\nbase_config:\n  model: m\nsweeps:\n  concurrency: [1]\n",
        k.dir().join("out").display(),
        fake_aiperf().display()
    );
    common::config::write(k.dir(), "cfg.yaml", &yaml)
}

/// A config with the real aiperf (the managed venv's executable and offline tokenizer given by
/// path: `HOME` is the test's temp dir, so sweeper would not find the venv by itself).
fn real_aiperf_config(k: &Cluster, server: &str, sweeps: &str) -> PathBuf {
    let (aiperf, tokenizer) = managed_aiperf();
    let yaml = format!(
        "batch_name: k8s\noutput_base_dir: {}\n{server}aiperf:\n  executable: {}\n  stop_grace_s: 3\nbase_config:\n  model: mock-model\n  endpoint_type: chat\n  streaming: true\n  tokenizer: {}\n  request_count: 8\n  isl: 32\n  osl: 16\n  no_gpu_telemetry: true\n  no_server_metrics: true\nsweeps:\n{sweeps}",
        k.dir().join("out").display(),
        aiperf.display(),
        tokenizer.display()
    );
    common::config::write(k.dir(), "cfg.yaml", &yaml)
}

/// The batch's runs in batch_manifest.json: (status, reason).
fn runs(batch: &Path) -> Vec<(String, String)> {
    let m = read_json(&batch.join("batch_manifest.json"));
    m["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The first run's process_result.json.
fn first_result(batch: &Path) -> Value {
    let m = read_json(&batch.join("batch_manifest.json"));
    let dir = m["runs"][0]["dir"].as_str().expect("a run dir").to_owned();
    read_json(&batch.join(dir).join("process_result.json"))
}

/// Asserts that no process sweeper started for `batch` is left (sentinels, their supervisors,
/// port-forwards), waiting up to `t` for them to end.
fn nothing_left(batch: &Path, t: Duration) {
    let key = batch.display().to_string();
    let gone = wait_for(t, || pids_with_env("SWEEPER_BATCH_DIR", &key).is_empty());
    let left: Vec<String> = pids_with_env("SWEEPER_BATCH_DIR", &key)
        .iter()
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect();
    assert!(gone, "processes of the batch are left running:\n{}", left.join("\n"));
}

const DGD: &str = "DynamoGraphDeployment";

#[test]
fn two_settings_are_applied_waited_for_run_and_deleted() {
    let _ = managed_aiperf(); // the venv first (once), so its build is not in the timings
    let k = Cluster::start(1.0);
    let mock = MockProcess::start(&["--port", "0"], &[]);
    let cfg = real_aiperf_config(
        &k,
        &dgd_server("ready", 60, &mock.url),
        "  server.vars.kv_backend: [UCX, LIBFABRIC]\n  concurrency: [1]\n",
    );
    let mut sweep = k.sweeper(&cfg, &[]);
    let st = sweep.wait(Duration::from_secs(240));
    let log = sweep.log();
    assert_eq!(st.code(), Some(0), "{log}");
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    assert_eq!(
        runs(&batch),
        [("succeeded".to_owned(), String::new()), ("succeeded".to_owned(), String::new())],
        "{log}"
    );

    // What the cluster saw, per DGD: one apply, readiness GETs, one DELETE, in that order; and
    // the second applied only after the first was deleted (one deployment at a time).
    let reqs = k.requests();
    let mut spans = Vec::new();
    for name in ["vllm-disagg-ucx", "vllm-disagg-libfabric"] {
        let at = |verb: &str| -> Vec<usize> {
            reqs.iter()
                .enumerate()
                .filter(|(_, r)| r.kind == DGD && r.name == name && r.verb == verb)
                .map(|(i, _)| i)
                .collect()
        };
        let (applies, gets, deletes) = (at("apply"), at("get"), at("delete"));
        assert_eq!(applies.len(), 1, "{name} applied once:\n{}", shown(&reqs));
        assert_eq!(deletes.len(), 1, "{name} deleted once:\n{}", shown(&reqs));
        let (apply, delete) = (applies[0], deletes[0]);
        assert!(matches!(reqs[apply].code, 200 | 201), "{}", reqs[apply]);
        assert_eq!(reqs[delete].code, 200, "{}", reqs[delete]);
        let first = reqs.iter().position(|r| r.kind == DGD && r.name == name).unwrap();
        assert_eq!(first, apply, "the apply comes first:\n{}", shown(&reqs));
        let polls = gets.iter().filter(|&&i| apply < i && i < delete).count();
        // --ready-after 1 polled every 0.2 s: several polls, the last one seeing it ready.
        assert!(polls >= 2, "{name}: {polls} readiness GETs between apply and delete");
        spans.push((apply, delete));
    }
    assert!(
        spans[0].1 < spans[1].0,
        "LIBFABRIC's DGD applied before UCX's was deleted:\n{}",
        shown(&reqs)
    );
    // `delete --wait=true` watched UCX's DGD go before the next apply.
    assert!(
        reqs[spans[0].1..spans[1].0].iter().any(|r| r.kind == DGD && r.verb == "watch"),
        "no wait for the delete:\n{}",
        shown(&reqs)
    );

    // The rendered manifests.
    for (id, want, not) in [("server-0", "UCX", "LIBFABRIC"), ("server-1", "LIBFABRIC", "UCX")] {
        let m = std::fs::read_to_string(batch.join(format!("{id}.k8s.yaml"))).unwrap();
        assert!(m.contains(&format!("name: vllm-disagg-{}\n", want.to_lowercase())), "{m}");
        assert_eq!(m.matches(&format!(r#""backends":["{want}"]"#)).count(), 2, "{m}");
        assert!(!m.contains(&format!(r#""backends":["{not}"]"#)) && !m.contains("{{"), "{m}");
    }

    // What ran, in provenance.json.
    let prov = read_json(&batch.join("provenance.json"));
    for (id, name) in [("server-0", "vllm-disagg-ucx"), ("server-1", "vllm-disagg-libfabric")] {
        let kube = &prov["servers"][id]["kubernetes"];
        assert_eq!(
            kube["objects"],
            serde_json::json!([format!("dynamographdeployment.nvidia.com/{name}")]),
            "{kube}"
        );
        assert_eq!(kube["manifest_file"], format!("{id}.k8s.yaml"), "{kube}");
        let images = kube["images"].as_array().expect("images");
        assert_eq!(images.len(), 3, "frontend, decode and prefill worker: {kube}");
        for img in images {
            assert!(img["pod"].as_str().unwrap().starts_with(&format!("{name}-")), "{img}");
            assert_eq!(img["container"], "main", "{img}");
            assert_eq!(img["image"], "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.0", "{img}");
            let id = img["image_id"].as_str().unwrap_or_default();
            assert!(
                id.starts_with("nvcr.io/nvidia/ai-dynamo/vllm-runtime@sha256:") && id.len() > 70,
                "{img}"
            );
        }
        assert_eq!(
            kube["nodes"],
            serde_json::json!([{"name": "mock-node-1", "gpu_product": "NVIDIA-H100-80GB-HBM3", "gpu_count": "8"}]),
            "{kube}"
        );
    }

    // The pods' logs, collected before the delete.
    let pods = std::fs::read_to_string(batch.join("server-0.pods.log")).unwrap();
    for pod in ["frontend", "vllmdecodeworker", "vllmprefillworker"] {
        let prefix = format!("[pod/vllm-disagg-ucx-{pod}-");
        let lines: Vec<&str> = pods.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert!(lines.len() >= 5, "{pod}: {} lines in server-0.pods.log:\n{pods}", lines.len());
        assert!(lines.iter().any(|l| l.ends_with("is ready")), "{pods}");
    }
    assert!(pods.contains("loading model Qwen/Qwen3-0.6B"), "{pods}");
    let pods1 = std::fs::read_to_string(batch.join("server-1.pods.log")).unwrap();
    assert!(pods1.contains("[pod/vllm-disagg-libfabric-vllmdecodeworker-"), "{pods1}");
    // kubectl's side, in the server log.
    let klog = std::fs::read_to_string(batch.join("server-0.log")).unwrap();
    assert!(
        klog.contains("apply --server-side '--field-manager=sweeper' --force-conflicts -f -")
            && klog.contains("dynamographdeployment.nvidia.com/vllm-disagg-ucx serverside-applied")
            && klog.contains(r#"dynamographdeployment.nvidia.com "vllm-disagg-ucx" deleted"#),
        "{klog}"
    );

    // Nothing left in the cluster, nothing left running.
    assert_eq!(k.items("dgd"), Vec::<Value>::new());
    assert_eq!(k.items("pods"), Vec::<Value>::new());
    nothing_left(&batch, Duration::from_secs(60));
}

/// A DGD setting with `behavior` that never gets to run aiperf: sweeper's exit, how long it
/// took, its output, the first run's recorded reason, and the cluster (to check what is left).
fn failing_setting(
    behavior: &str,
    startup_timeout_s: u32,
) -> (Cluster, ExitStatus, Duration, String, String) {
    let k = Cluster::start(1.0);
    let cfg =
        fake_aiperf_config(&k, &dgd_server(behavior, startup_timeout_s, "http://127.0.0.1:9"));
    let start = Instant::now();
    let mut sweep = k.sweeper(&cfg, &[]);
    let st = sweep.wait(Duration::from_secs(u64::from(startup_timeout_s) + 300));
    let took = start.elapsed();
    let log = sweep.log();
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    let reason = first_result(&batch)["reason"].as_str().unwrap_or_default().to_owned();
    assert_eq!(runs(&batch)[0].0, "failed", "{log}");
    assert!(k.saw(Duration::ZERO, "delete", DGD, "vllm-disagg-ucx"), "{}", shown(&k.requests()));
    assert_eq!(k.items("dgd"), Vec::<Value>::new());
    nothing_left(&batch, Duration::from_secs(60));
    (k, st, took, log, reason)
}

#[test]
fn readiness_timeout_is_reported_with_status_and_pod_logs_and_deleted() {
    let (_k, st, took, log, reason) = failing_setting("never", 3);
    assert_eq!(st.code(), Some(1), "{log}");
    // A lower bound only: a slow machine waits longer, never less.
    assert!(took >= Duration::from_secs(3), "gave up after {took:?}, before its 3 s");
    for want in [
        "`dynamographdeployment.nvidia.com/vllm-disagg-ucx` not ready within 3s",
        "(condition Ready=True and .status.state=successful)",
        "its status: state pending, Ready=False (ResourcesNotReady: Waiting for pods to become ready)",
        "; last lines of its pods:\n",
        "[pod/vllm-disagg-ucx-vllmdecodeworker-",
        "still loading Qwen/Qwen3-0.6B",
    ] {
        assert!(reason.contains(want), "no {want:?} in the reason:\n{reason}\n{log}");
    }
    assert!(log.contains("not ready within 3s"), "{log}");
}

#[test]
fn a_failed_deployment_fails_at_once_with_its_pod_logs() {
    // The timeout is long, so that "at once" holds on any machine: it fails after the mock's
    // 1 s, far from 600 s (the bound is half of it, which no slow machine reaches).
    let (_k, st, took, log, reason) = failing_setting("fail", 600);
    assert_eq!(st.code(), Some(1), "{log}");
    assert!(took < Duration::from_secs(300), "took {took:?}: {log}");
    for want in [
        "`dynamographdeployment.nvidia.com/vllm-disagg-ucx` will not become ready: the deployment failed: state failed",
        "Ready=False (PodCrashLoop: pod vllm-disagg-ucx-",
        "; last lines of its pods:\n",
        "RuntimeError: CUDA error: out of memory",
    ] {
        assert!(reason.contains(want), "no {want:?} in the reason:\n{reason}\n{log}");
    }
    assert!(!reason.contains("not ready within"), "{reason}");
}

/// `teardown: keep`: the deployment outlives the batch, whether sweeper ends on its own or is
/// killed (no sentinel deletes it); its pods' logs are still collected.
#[test]
fn teardown_keep_leaves_the_deployment_even_after_kill_9() {
    let k = Cluster::start(0.5);
    let mock = MockProcess::start(&["--port", "0"], &[]);
    let server = format!("{}  teardown: keep\n", dgd_server("ready", 60, &mock.url));
    let cfg = fake_aiperf_config(&k, &server);
    let mut sweep = k.sweeper(&cfg, &[]);
    let st = sweep.wait(Duration::from_secs(90));
    assert_eq!(st.code(), Some(0), "{}", sweep.log());
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    assert!(!k.saw(Duration::ZERO, "delete", DGD, "vllm-disagg-ucx"), "{}", shown(&k.requests()));
    assert_eq!(k.items("dgd").len(), 1, "the DGD is kept");
    assert!(std::fs::read_to_string(batch.join("server-0.pods.log")).unwrap().contains("[pod/"));
    nothing_left(&batch, Duration::from_secs(60));
    // Killed while deploying a second time (the same name: applied again, kept again).
    std::fs::remove_dir_all(k.dir().join("out")).unwrap();
    let slow = k.dir().join("slow.yaml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("startup_timeout_s: 60", "startup_timeout_s: 61");
    std::fs::write(&slow, text).unwrap();
    let sweep = k.sweeper(&slow, &[]);
    assert!(wait_for(Duration::from_secs(60), || {
        k.requests().iter().filter(|r| r.kind == DGD && r.verb == "apply").count() == 2
    }));
    sweep.signal(libc::SIGKILL);
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    nothing_left(&batch, Duration::from_secs(60));
    assert!(
        !k.saw(Duration::from_secs(2), "delete", DGD, "vllm-disagg-ucx"),
        "{}",
        shown(&k.requests())
    );
    assert_eq!(k.items("dgd").len(), 1, "the DGD is kept");
}

#[test]
fn ctrl_c_while_deploying_deletes_the_deployment() {
    let k = Cluster::start(60.0);
    let cfg = fake_aiperf_config(&k, &dgd_server("ready", 300, "http://127.0.0.1:9"));
    let mut sweep = k.sweeper(&cfg, &[]);
    // Applied and being waited for (a readiness GET after the apply).
    assert!(
        k.saw(Duration::from_secs(60), "get", DGD, "vllm-disagg-ucx"),
        "never applied and polled:\n{}\n{}",
        shown(&k.requests()),
        sweep.log()
    );
    assert!(k.saw(Duration::ZERO, "apply", DGD, "vllm-disagg-ucx"));
    let interrupted = Instant::now();
    sweep.signal(libc::SIGINT);
    let st = sweep.wait(Duration::from_secs(200));
    let log = sweep.log();
    assert_eq!(st.code(), Some(130), "{log}");
    assert!(
        k.saw(Duration::from_secs(30), "delete", DGD, "vllm-disagg-ucx"),
        "no DELETE after Ctrl-C:\n{}\n{log}",
        shown(&k.requests())
    );
    // Not the 300 s readiness wait: half of it, a bound no slow machine reaches.
    assert!(interrupted.elapsed() < Duration::from_secs(150), "{:?}", interrupted.elapsed());
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    let m = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(m["interrupted"], true, "{m}");
    assert_eq!(m["runs"][0]["status"], "interrupted", "{m}");
    assert!(wait_for(Duration::from_secs(30), || k.items("dgd").is_empty()), "the DGD is left");
    nothing_left(&batch, Duration::from_secs(60));
}

#[test]
fn kill_9_while_deploying_still_deletes_it() {
    let k = Cluster::start(60.0);
    let cfg = fake_aiperf_config(&k, &dgd_server("ready", 300, "http://127.0.0.1:9"));
    let mut sweep = k.sweeper(&cfg, &[]);
    assert!(
        k.saw(Duration::from_secs(60), "get", DGD, "vllm-disagg-ucx"),
        "never applied and polled:\n{}\n{}",
        shown(&k.requests()),
        sweep.log()
    );
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    let key = batch.display().to_string();
    let sentinels: Vec<i32> = pids_with_env("SWEEPER_BATCH_DIR", &key)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\0infinity\0")
        })
        .collect();
    assert_eq!(sentinels.len(), 1, "one sentinel (`sleep infinity`) of the batch");
    assert!(!k.saw(Duration::ZERO, "delete", DGD, "vllm-disagg-ucx"));
    sweep.signal(libc::SIGKILL); // no cleanup code in sweeper runs
    sweep.wait(Duration::from_secs(30));
    // The sentinel's supervisor sees sweeper die and deletes the deployment itself.
    assert!(
        k.saw(Duration::from_secs(60), "delete", DGD, "vllm-disagg-ucx"),
        "no DELETE within 60 s of kill -9:\n{}",
        shown(&k.requests())
    );
    assert!(wait_for(Duration::from_secs(60), || !pid_alive(sentinels[0])), "sentinel left");
    nothing_left(&batch, Duration::from_secs(60));
    assert!(wait_for(Duration::from_secs(30), || k.items("dgd").is_empty()), "the DGD is left");
    // The batch says what it knew when it died: the run had not started (its server was still
    // deploying), so a `--resume` runs it.
    assert_eq!(runs(&batch)[0].0, "pending");
}

/// The port-forward's supervision, NOT `kubectl port-forward` itself: the real one needs the API
/// server to upgrade the connection to SPDY/WebSocket streams and a kubelet behind it, which the
/// mock API server cannot provide. `server.kubectl` is `tests/fixtures/k8s/kubectl-stand-in`,
/// the real kubectl for every other command; its `port-forward` is a TCP forwarder from the
/// local port to the mock inference server, and the first one it starts exits by itself after
/// 3 s (exit 1, "lost connection to pod"), while run 1's aiperf is still starting. Checked: run 1
/// fails for the lost server, the forward is started again for run 2, which succeeds, and the
/// deployment itself is applied and deleted once (not redeployed).
#[test]
fn port_forward_is_supervised_restarted_and_a_lost_one_fails_its_run() {
    let _ = managed_aiperf();
    let k = Cluster::start(1.0);
    let mock = MockProcess::start(&["--port", "0"], &[]);
    let mock_port = mock.url.rsplit(':').next().unwrap().trim_end_matches('/').to_owned();
    let local = free_port();
    let server = format!(
        "server:\n  kind: kubernetes\n  manifest: {}\n  namespace: bench\n  poll_interval_s: 0.2\n  startup_timeout_s: 60\n  kubectl: {}\n  reach: {{service: vllm, port: 8000, local_port: {local}}}\n",
        fixture("deployment.yaml").display(),
        fixture("kubectl-stand-in").display()
    );
    let cfg = real_aiperf_config(&k, &server, "  concurrency: [1, 2]\n");
    let state = k.dir().join("stand-in");
    std::fs::create_dir_all(&state).unwrap();
    let mut sweep = k.sweeper(
        &cfg,
        &[
            ("STAND_IN_FORWARD_TO", mock_port.clone()),
            ("STAND_IN_STATE_DIR", state.display().to_string()),
            ("STAND_IN_FIRST_LIFETIME_S", "3".to_owned()),
        ],
    );
    let st = sweep.wait(Duration::from_secs(240));
    let log = sweep.log();
    assert_eq!(st.code(), Some(1), "run 1 fails, run 2 succeeds:\n{log}");
    let batch = batch_dir(&k.dir().join("out"), "k8s");
    let r = runs(&batch);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].0, "failed", "{r:?}\n{log}");
    assert!(
        r[0].1.contains("kubectl port-forward exited") && r[0].1.contains("lost mid-run"),
        "{r:?}"
    );
    assert_eq!(r[1].0, "succeeded", "{r:?}\n{log}");
    // The forward was started twice (the second before run 2), the first with its lifetime.
    let starts = std::fs::read_to_string(state.join("port-forward.log")).unwrap();
    let lines: Vec<&str> = starts.lines().collect();
    assert_eq!(lines.len(), 2, "{starts}");
    assert!(lines[0].contains(&format!("svc/vllm {local}:8000 lifetime=3")), "{starts}");
    assert!(lines[1].ends_with("lifetime=0"), "{starts}");
    // The deployment was neither redeployed nor left: applied once, deleted once, per object.
    let reqs = k.requests();
    for kind in ["Deployment", "Service"] {
        let n = |verb: &str| reqs.iter().filter(|r| r.kind == kind && r.verb == verb).count();
        assert_eq!((n("apply"), n("delete")), (1, 1), "{kind}:\n{}", shown(&reqs));
    }
    // No forwarder left: the local port is closed, and nothing of the batch runs.
    nothing_left(&batch, Duration::from_secs(60));
    assert!(!listening(local), "a forwarder still listens on {local}");
    for l in &lines {
        let pid: i32 = l.split_whitespace().next().unwrap().parse().unwrap();
        assert!(!pid_alive(pid), "forwarder {pid} is alive");
    }
}

/// The same lifecycle against a REAL cluster: `SWEEPER_TEST_KUBECONFIG=<kubeconfig> cargo test
/// --test kubernetes -- --ignored`. Ignored otherwise (listed as ignored, never counted as
/// passing): no cluster can run on the machines this suite was written on, so it has not run
/// yet. It deploys `aiperf_configs/k8s/dynamo_disagg_qwen3.yaml` (the shipped example's
/// manifest: the Dynamo operator, 2 GPUs and a Secret `hf-token-secret` are needed) for UCX and
/// LIBFABRIC in `SWEEPER_TEST_K8S_NAMESPACE` (default `sweeper-test`), port-forwards each
/// frontend (`svc/<name>-frontend`, a DGD's default) to local port 8000, runs the real aiperf
/// once per backend, and checks that both succeeded, that provenance.json shows the pods' image
/// digests, and that no DynamoGraphDeployment is left.
#[test]
#[ignore = "needs a real cluster: set SWEEPER_TEST_KUBECONFIG and run with --ignored"]
fn real_cluster_deploys_runs_and_deletes_both_backends() {
    let kubeconfig = std::env::var("SWEEPER_TEST_KUBECONFIG")
        .expect("SWEEPER_TEST_KUBECONFIG must name the kubeconfig of the cluster to test against");
    let ns = std::env::var("SWEEPER_TEST_K8S_NAMESPACE").unwrap_or_else(|_| "sweeper-test".into());
    let (aiperf, _) = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        "batch_name: k8s_real\noutput_base_dir: {out}\nserver:\n  kind: kubernetes\n  manifest: {manifest}\n  namespace: {ns}\n  vars: {{image: 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.0', kv_backend: UCX}}\n  health_path: /v1/models\naiperf:\n  executable: {aiperf}\nbase_config:\n  model: Qwen/Qwen3-0.6B\n  endpoint_type: completions\n  streaming: true\n  request_count: 20\n  isl: 128\n  osl: 32\nsweeps:\n  server.vars.kv_backend: [UCX, LIBFABRIC]\n  concurrency: [4]\n",
        out = tmp.path().join("out").display(),
        manifest = root().join("aiperf_configs/k8s/dynamo_disagg_qwen3.yaml").display(),
        aiperf = aiperf.display(),
    );
    let cfg = common::config::write(tmp.path(), "cfg.yaml", &yaml);
    let out = sweeper().arg("-c").arg(&cfg).env("KUBECONFIG", &kubeconfig).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "k8s_real");
    assert!(runs(&batch).iter().all(|(s, _)| s == "succeeded"), "{:?}", runs(&batch));
    let prov = read_json(&batch.join("provenance.json"));
    for id in ["server-0", "server-1"] {
        let images =
            prov["servers"][id]["kubernetes"]["images"].as_array().cloned().unwrap_or_default();
        assert!(
            images.iter().any(|i| i["image_id"].as_str().is_some_and(|d| d.contains("@sha256:"))),
            "{id}: {images:?}"
        );
    }
    let left = Command::new("kubectl")
        .args(["--namespace", &ns, "get", "dynamographdeployments", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&left.stdout).into_owned();
    assert!(!names.contains("qwen3-disagg-"), "left on the cluster: {names}");
}
