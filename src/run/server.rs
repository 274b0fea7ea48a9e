//! One inference server's lifecycle: launch in its own process group with its output in a log
//! file, poll health until ready (or the process dies, or the timeout), stop it cleanly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::event::{Event, Observer};
use super::process;
use super::signals::Groups;
use super::supervise::Supervision;
use crate::config::ServerConfig;
use crate::plan::Combination;
use crate::plan::server::{Health, Launch, PROBE_PATHS};
use crate::util::redact::Redactor;

/// A running (or external) server.
pub struct Server {
    pub id: String,
    pub url: String,
    health: Health,
    child: Option<(Child, i32)>,
    pub log: Option<PathBuf>,
    /// Where this start's output begins in `log` (earlier starts' output comes before).
    log_start: u64,
    stop_grace: Duration,
    container: Option<(String, String)>,
    /// A `kubernetes` server: its deployment (no process of its own but the port-forward).
    kube: Option<super::kube::Kube>,
}

/// Why a server could not be used (secrets masked).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ServerError(pub String);

impl From<&str> for ServerError {
    fn from(s: &str) -> Self {
        ServerError(s.to_owned())
    }
}

impl From<String> for ServerError {
    fn from(s: String) -> Self {
        ServerError(s)
    }
}

/// What one health path answered.
enum Answer {
    Status(u16),
    NoAnswer(String),
}

/// `GET <path>: HTTP 404, GET <path>: connection refused`.
fn shown(answers: &[(String, Answer)]) -> String {
    answers
        .iter()
        .map(|(p, a)| match a {
            Answer::Status(code) => format!("GET {p}: HTTP {code}"),
            Answer::NoAnswer(e) => format!("GET {p}: {e}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One round of health requests: `None` when a path answered 2xx (and none refused the key
/// before it), else what each path answered.
async fn ask(
    client: &reqwest::Client,
    url: &str,
    paths: &[String],
    bearer: Option<&str>,
) -> Option<Vec<(String, Answer)>> {
    let mut answers: Vec<(String, Answer)> = Vec::new();
    for p in paths {
        let mut req = client.get(join_url(url, p));
        if let Some(key) = bearer {
            req = req.bearer_auth(key);
        }
        let refused_key = answers.iter().any(|(_, a)| matches!(a, Answer::Status(401 | 403)));
        let answer = match req.send().await {
            Ok(resp) if resp.status().is_success() && !refused_key => return None,
            Ok(resp) => Answer::Status(resp.status().as_u16()),
            Err(e) if e.is_connect() => Answer::NoAnswer("connection refused".to_owned()),
            Err(e) if e.is_timeout() => Answer::NoAnswer("timed out".to_owned()),
            Err(e) => Answer::NoAnswer(e.to_string()),
        };
        answers.push((p.clone(), answer));
    }
    Some(answers)
}

impl Server {
    /// A server that is already up (`external`): nothing to start or stop.
    pub fn external(id: &str, url: &str, health: Health) -> Self {
        Self {
            id: id.to_owned(),
            url: url.to_owned(),
            health,
            child: None,
            log: None,
            log_start: 0,
            stop_grace: Duration::ZERO,
            container: None,
            kube: None,
        }
    }

    /// A deployment that is ready (and forwarded): its health is checked next.
    fn kubernetes(id: &str, kube: super::kube::Kube, health: Health) -> Self {
        let mut s = Self::external(id, &kube.dep.url(), health);
        s.log = Some(kube.log_file().to_path_buf());
        s.kube = Some(kube);
        s
    }

    /// The deployment of a `kubernetes` server.
    pub fn kube(&self) -> Option<&super::kube::Kube> {
        self.kube.as_ref()
    }

    /// A server that can be reached again without starting it again: a deployment whose
    /// port-forward died (the deployment itself lives on in the cluster).
    pub fn reconnectable(&self) -> bool {
        self.kube.is_some()
    }

    /// Starts the port-forward of a deployment again. Returns its new process group.
    pub async fn reconnect(&mut self) -> Result<i32, ServerError> {
        let Some(k) = self.kube.as_mut() else { return Err("nothing to reconnect".into()) };
        k.stop_forward().await;
        k.forward().await
    }

    /// Starts `launch` under a supervisor, with its output appended to `log` (each start is
    /// preceded by a separator line, so no earlier output is ever lost). `url` is where it will
    /// answer.
    pub fn spawn(
        id: &str,
        launch: &Launch,
        url: &str,
        health: Health,
        log: &Path,
        sup: &Supervision,
    ) -> Result<Self, ServerError> {
        use std::io::Write;
        let open_err = |e: std::io::Error| {
            ServerError(format!("failed to open server log `{}`: {e}", log.display()))
        };
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(open_err)?;
        let log_start = file.metadata().map_or(0, |m| m.len());
        let _ = writeln!(
            file,
            "--- sweeper: {id} started {} (sweeper pid {}) ---",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S"),
            std::process::id()
        );
        let file2 = file.try_clone().map_err(open_err)?;
        if launch.argv.is_empty() {
            return Err(ServerError("the server command is empty".into()));
        }
        let stop_grace = super::aiperf::secs(launch.stop_grace_s);
        // A docker container outlives a killed `docker run` client: the supervisor stops it if
        // sweeper dies.
        let docker_bin = launch.argv.first().cloned().unwrap_or_default();
        let on_exit: Option<Vec<String>> = launch.container.as_ref().map(|name| {
            vec![
                docker_bin.clone(),
                "stop".into(),
                "-t".into(),
                stop_grace.as_secs().to_string(),
                name.clone(),
            ]
        });
        let mut cmd = sup.command(&launch.argv, stop_grace, on_exit.as_deref());
        cmd.envs(&launch.env).stdout(Stdio::from(file)).stderr(Stdio::from(file2));
        if let Some(cwd) = &launch.cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd.spawn().map_err(|e| {
            ServerError(format!(
                "failed to start the supervisor of server `{}`: {e}",
                launch.argv[0]
            ))
        })?;
        let pgid = child.id().map_or(0, |p| p.cast_signed());
        Ok(Self {
            id: id.to_owned(),
            url: url.to_owned(),
            health,
            child: Some((child, pgid)),
            log: Some(log.to_path_buf()),
            log_start,
            stop_grace,
            container: launch.container.clone().map(|c| (docker_bin, c)),
            kube: None,
        })
    }

    /// Polls health until it says ready (see [`Health`]). Fails at once when the process
    /// exits, or after `timeout`. `bearer` is sent as `Authorization: Bearer ...` (hosted
    /// endpoints answer 401 without it). `Ok` holds the time it took and, when the server was
    /// found up without a healthy answer, a warning saying what was tried and what came back.
    pub async fn wait_ready(
        &mut self,
        timeout: Duration,
        bearer: Option<&str>,
    ) -> Result<(Duration, Option<String>), ServerError> {
        let start = Instant::now();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ServerError(format!("failed to build the HTTP client: {e}")))?;
        let paths: Vec<String> = match &self.health {
            Health::Path(p) => vec![p.clone()],
            Health::Probe => PROBE_PATHS.iter().map(|p| (*p).to_owned()).collect(),
        };
        let mut delay = Duration::from_millis(50);
        loop {
            if let Some(reason) = self.exited() {
                return Err(ServerError(format!(
                    "server exited while starting ({reason}){}",
                    self.log_tail()
                )));
            }
            let Some(answers) = ask(&client, &self.url, &paths, bearer).await else {
                return Ok((start.elapsed(), None));
            };
            // A path that wants a key the request did not have (or not this one): whatever
            // else answers, inference will be refused too. Said at once, not after the timeout.
            if let Some((p, Answer::Status(code))) =
                answers.iter().find(|(_, a)| matches!(a, Answer::Status(401 | 403)))
            {
                return Err(ServerError(format!(
                    "the server refuses the API key: GET {p} answered HTTP {code} ({}); check the API key (`api_key_env_var`){}",
                    shown(&answers),
                    if bearer.is_none() { ", none is configured" } else { "" }
                )));
            }
            // Probing: the server answers HTTP on every path, none 2xx and none 503 ("starting"):
            // it is up, its readiness unknown.
            let all_answered =
                answers.iter().all(|(_, a)| matches!(a, Answer::Status(c) if *c != 503));
            if self.health == Health::Probe && all_answered {
                return Ok((
                    start.elapsed(),
                    Some(format!(
                        "{}: no health path is configured and none of the usual ones answered 2xx ({}); the server answers HTTP, so the runs go on, but its readiness is unknown. Set `health_check_endpoint` (or `server.health_path`) to make the check strict",
                        self.id,
                        shown(&answers)
                    )),
                ));
            }
            if start.elapsed() >= timeout {
                let last = shown(&answers);
                let hint = if last.contains("401") || last.contains("403") {
                    "; check the API key (`api_key_env_var`)"
                } else if last.contains("404") {
                    "; check the health path (`health_check_endpoint` / `server.health_path`)"
                } else {
                    ""
                };
                return Err(ServerError(format!(
                    "server not ready: {} within {:.0}s (last: {last}{hint}){}",
                    self.health.failure(),
                    timeout.as_secs_f64(),
                    self.log_tail()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// For a server started on port 0 that prints `listening on http://HOST:PORT` (the mock):
    /// waits for that line in its log and points `url` and the health check at it. Asking the
    /// server to pick its own port leaves no window for another process to take it.
    pub async fn learn_url_from_log(&mut self, timeout: Duration) -> Result<(), ServerError> {
        let start = Instant::now();
        if self.log.is_none() {
            return Ok(());
        }
        loop {
            let text = self.log_text();
            if let Some(url) = text.lines().find_map(|l| l.trim().strip_prefix("listening on ")) {
                self.url = url.trim().to_owned();
                return Ok(());
            }
            if let Some(reason) = self.exited() {
                return Err(ServerError(format!(
                    "server exited while starting ({reason}){}",
                    self.log_tail()
                )));
            }
            if start.elapsed() >= timeout {
                return Err(ServerError(format!(
                    "server did not say where it listens within {:.0}s{}",
                    timeout.as_secs_f64(),
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `Some(reason)` when the server process has exited (for a deployment: its port-forward).
    pub fn exited(&mut self) -> Option<String> {
        if let Some(k) = self.kube.as_mut() {
            return k.forward_exited();
        }
        let (child, _) = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(st)) => Some(process::describe_status(&st)),
            _ => None,
        }
    }

    /// Resolves when the server process exits (never for an external server; for a
    /// deployment, when its port-forward exits).
    pub async fn died(&mut self) -> String {
        if let Some(k) = self.kube.as_mut() {
            return k.forward_died().await;
        }
        match self.child.as_mut() {
            Some((child, _)) => match child.wait().await {
                Ok(st) => process::describe_status(&st),
                Err(e) => e.to_string(),
            },
            None => std::future::pending().await,
        }
    }

    /// This start's output so far (what came before it in the log belongs to earlier starts).
    fn log_text(&self) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Some(path) = &self.log else { return String::new() };
        let mut out = Vec::new();
        if let Ok(mut f) = std::fs::File::open(path) {
            let _ = f.seek(SeekFrom::Start(self.log_start));
            let _ = f.take(64 * 1024 * 1024).read_to_end(&mut out);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The last lines of this start's output (without the separator line).
    fn last_lines(&self, n: usize) -> Vec<String> {
        let text = self.log_text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("--- sweeper: ") && !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(n)..].iter().map(|l| (*l).to_owned()).collect()
    }

    /// The last lines of the server log, prefixed for an error message.
    pub fn log_tail(&self) -> String {
        let Some(l) = &self.log else { return String::new() };
        let t = self.last_lines(15);
        if t.is_empty() {
            format!("; it wrote nothing to `{}`", l.display())
        } else {
            format!("; last lines of `{}`:\n    {}", l.display(), t.join("\n    "))
        }
    }

    /// The last lines of the server log on one line (`a | b | c`), for a run's recorded reason.
    pub fn log_tail_inline(&self) -> String {
        let Some(l) = &self.log else { return String::new() };
        let t = self.last_lines(5);
        if t.is_empty() {
            format!("; it wrote nothing to `{}`", l.display())
        } else {
            let name = l.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            format!(
                "; last lines of {name}: {}",
                t.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" | ")
            )
        }
    }

    /// Stops the server and its process group (SIGTERM, grace, SIGKILL); for docker also
    /// `docker stop`s the container, which a killed client would leave running; for a
    /// deployment, deletes it. Returns a warning when something may be left (a delete that
    /// did not finish: what is left is then the cluster's to finish).
    pub async fn stop(&mut self) -> Option<String> {
        let left = match self.kube.as_mut() {
            Some(k) => k.teardown().await,
            None => None,
        };
        if let Some((child, pgid)) = self.child.as_mut() {
            process::stop_group(child, *pgid, self.stop_grace).await;
        }
        if let Some((docker, name)) = self.container.take() {
            let _ = Command::new(docker)
                .args(["stop", "-t", &self.stop_grace.as_secs().to_string(), &name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
        self.child = None;
        left
    }

    /// Process group id (0 for external; a deployment's port-forward), for the second-Ctrl-C
    /// hard kill. (A deployment's sentinel is not in it: killed with sweeper, its supervisor
    /// deletes the deployment.)
    pub fn pgid(&self) -> i32 {
        if let Some(k) = &self.kube {
            return k.forward_pgid();
        }
        self.child.as_ref().map_or(0, |(_, p)| *p)
    }
}

/// Whether `c`'s server is started (a command, a container, a deployment), which may take
/// minutes, rather than only checked (`external`, or none configured).
pub fn launches(c: &Combination) -> bool {
    !matches!(c.server.as_deref(), None | Some(ServerConfig::External { .. }))
}

/// An `external` server (or none configured): only its health is checked, within its timeout.
fn external(
    c: &Combination,
    health: Health,
    obs: &mut dyn Observer,
) -> Result<(Server, f64), ServerError> {
    let url = c.url().ok_or(ServerError::from("no url to benchmark"))?;
    let timeout = match c.server.as_deref() {
        Some(ServerConfig::External { startup_timeout_s, .. }) => *startup_timeout_s,
        _ => 30.0,
    };
    let what = match &health {
        Health::Path(p) => join_url(&url, p),
        Health::Probe => format!("{url} (probing {})", PROBE_PATHS.join(", ")),
    };
    obs.event(Event::ServerChecking { id: &c.server_id, url: &what });
    Ok((Server::external(&c.server_id, &url, health), timeout))
}

/// Deploys a `kubernetes` server setting: renders and applies its manifest, waits for its
/// readiness rule, forwards its port. On failure (or Ctrl-C) what was applied is deleted.
/// Errors are the caller's to mask.
async fn deploy(
    k: &crate::config::raw::KubernetesServer,
    c: &Combination,
    cx: &StartContext<'_>,
    interrupts: &mut watch::Receiver<usize>,
    obs: &mut dyn Observer,
) -> Result<super::kube::Kube, ServerError> {
    let dep = crate::plan::kube::deployment(k, cx.batch_name, &c.server_id)
        .map_err(|e| ServerError(e.0))?;
    let file = crate::plan::kube::manifest_file(cx.batch_dir, &c.server_id);
    let command = format!(
        "{} apply -f {} ({})",
        k.kubectl,
        file.display(),
        dep.objects.iter().map(crate::plan::kube::Object::reference).collect::<Vec<_>>().join(", ")
    );
    obs.event(Event::ServerStarting { id: &c.server_id, kind: "kubernetes", command: &command });
    let sup = Supervision { exe: cx.program.into(), batch_dir: cx.batch_dir.to_path_buf() };
    let mut kube = super::kube::Kube::new(k, dep, &c.server_id, cx.batch_dir, sup, cx.redactor)?;
    kube.start_sentinel()?;
    let poll = super::aiperf::secs(k.poll_interval_s);
    let timeout = super::aiperf::secs(k.startup_timeout_s);
    let up = async {
        kube.apply().await?;
        kube.wait_ready(poll, timeout, interrupts).await?;
        kube.forward().await
    }
    .await;
    match up {
        Ok(_) => Ok(kube),
        Err(e) => {
            if let Some(what) = kube.teardown_plan() {
                obs.event(Event::ServerStopping { id: &c.server_id, what: &what });
            }
            let _ = kube.teardown().await;
            Err(e)
        }
    }
}

/// `http://h:1/` + `/health` -> `http://h:1/health`.
pub fn join_url(base: &str, path: &str) -> String {
    let base = if base.contains("://") { base.to_owned() } else { format!("http://{base}") };
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// What [`start`] needs besides the combination.
pub struct StartContext<'a> {
    pub batch_name: &'a str,
    pub batch_dir: &'a Path,
    /// sweeper's own executable (the mock server is `sweeper mock-server`; every server runs
    /// under `sweeper __supervise`).
    pub program: &'a Path,
    pub redactor: &'a Redactor,
    pub groups: &'a Groups,
}

/// Starts (or, for an external server, checks) the server of combination `c` and waits until it
/// is healthy. `Err` says why it cannot be used (secrets masked).
pub async fn start(
    c: &Combination,
    cx: &StartContext<'_>,
    interrupts: &mut watch::Receiver<usize>,
    obs: &mut dyn Observer,
) -> Result<Server, ServerError> {
    let health = crate::plan::server::health(
        c.server.as_deref(),
        c.merged.get("health_check_endpoint").and_then(Value::as_str),
    );
    let begun = Instant::now();
    let (mut srv, timeout) = match c.server.as_deref() {
        Some(ServerConfig::Kubernetes(k)) => {
            let started = Instant::now();
            let kube = deploy(k, c, cx, interrupts, obs)
                .await
                .map_err(|e| ServerError(cx.redactor.redact(&e.0)))?;
            let srv = Server::kubernetes(&c.server_id, kube, health);
            cx.groups.track(srv.pgid());
            // Health shares the start-up budget with readiness.
            (srv, (k.startup_timeout_s - started.elapsed().as_secs_f64()).max(1.0))
        }
        None | Some(ServerConfig::External { .. }) => external(c, health, obs)?,
        Some(s) => {
            let program = cx.program.display().to_string();
            let launch = crate::plan::server::launch(s, cx.batch_name, &c.server_id, &program)
                .ok_or(ServerError::from("nothing to launch"))?;
            let url = launch
                .url
                .clone()
                .or_else(|| c.url())
                .unwrap_or_else(|| "http://127.0.0.1:0".to_owned());
            let log = cx.batch_dir.join(format!("{}.log", c.server_id));
            let command = cx.redactor.redact(&crate::plan::argv::shell_line(&launch.argv));
            obs.event(Event::ServerStarting {
                id: &c.server_id,
                kind: s.kind(),
                command: &command,
            });
            let sup = Supervision { exe: cx.program.into(), batch_dir: cx.batch_dir.to_path_buf() };
            let mut srv = Server::spawn(&c.server_id, &launch, &url, health, &log, &sup)?;
            cx.groups.track(srv.pgid());
            // The mock picks a free port itself (port 0) and prints it.
            if matches!(s, ServerConfig::Mock(_))
                && let Err(e) =
                    srv.learn_url_from_log(super::aiperf::secs(launch.startup_timeout_s)).await
            {
                cx.groups.untrack(srv.pgid());
                let _ = srv.stop().await;
                return Err(e);
            }
            (srv, launch.startup_timeout_s)
        }
    };
    // The API key, for endpoints whose health path needs it (hosted ones do).
    let key =
        c.merged.get("api_key_env_var").and_then(Value::as_str).and_then(|v| std::env::var(v).ok());
    let ready = tokio::select! {
        r = srv.wait_ready(super::aiperf::secs(timeout), key.as_deref()) => r,
        _ = interrupts.changed() => Err(ServerError::from("interrupted")),
    };
    match ready {
        Ok((t, warning)) => {
            if let Some(w) = warning {
                obs.event(Event::Warning(&cx.redactor.redact(&w)));
            }
            // A deployment's time to ready includes its apply and readiness wait.
            let after = if srv.kube().is_some() { begun.elapsed() } else { t };
            obs.event(Event::ServerReady { id: &c.server_id, url: &srv.url, after });
            Ok(srv)
        }
        Err(e) => {
            cx.groups.untrack(srv.pgid());
            let _ = srv.stop().await;
            Err(ServerError(cx.redactor.redact(&e.0)))
        }
    }
}
