//! Launching and watching one aiperf: spawn it in its own process group inside the combination's
//! directory, pump its output into `aiperf.log` (secrets masked), and wait for whichever comes
//! first: its exit, the per-run timeout, the server dying, or Ctrl-C. Then judge the outcome.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

use super::decide::{ArtifactCheck, Artifacts};
use super::process;
use super::server::Server;
use super::signals::Groups;
use super::supervise::{Guardian, Supervision};
use crate::config::AiperfSettings;
use crate::plan::Combination;
use crate::records::RunStatus;
use crate::util::redact::Redactor;

/// How one aiperf run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: RunStatus,
    pub returncode: Option<i32>,
    pub signal: Option<i32>,
    pub reason: Option<String>,
    pub error_count: Option<u64>,
    /// The server process died during the run.
    pub server_died: bool,
}

impl Outcome {
    fn failed(reason: String) -> Self {
        Outcome {
            status: RunStatus::Failed,
            returncode: None,
            signal: None,
            reason: Some(reason),
            error_count: None,
            server_died: false,
        }
    }
}

/// Everything needed to start one aiperf.
pub struct Launch<'a> {
    /// Program and arguments, secrets revealed (never shown or written).
    pub argv: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    /// The combination's directory: aiperf's working and artifact directory.
    pub dir: &'a Path,
    /// aiperf's private `TMPDIR`.
    pub tmp: &'a Path,
    pub log: &'a Path,
    pub redactor: &'a Redactor,
    pub timeout: Duration,
    /// SIGTERM to SIGKILL when aiperf is stopped.
    pub grace: Duration,
    /// Whether the artifacts aiperf left are usable.
    pub artifacts: ArtifactCheck,
    /// The run's `num_profile_runs`, for that check (from the plan: not read back from disk).
    pub profile_runs: Option<u64>,
    /// Where aiperf's output lines go live (`--verbose`), secrets masked.
    pub live: Option<mpsc::UnboundedSender<String>>,
    /// How aiperf's whole process tree dies with sweeper: the batch's guardian is told of its
    /// group, or without one it runs under a supervisor of its own.
    pub supervision: &'a Supervision,
    pub guardian: &'a mut Option<Guardian>,
}

/// A duration from seconds, clamped to what a `Duration` can hold (no input can panic here).
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.clamp(0.0, 1.0e9) } else { 1.0e9 })
}

/// The per-run timeout: `aiperf.run_timeout_s`, else benchmark_duration + grace + 600 s when a
/// duration is set, else an hour.
pub fn timeout_for(settings: &AiperfSettings, c: &Combination) -> Duration {
    if let Some(t) = settings.run_timeout_s {
        return secs(t);
    }
    let num = |k: &str| c.get(k).and_then(Value::as_f64);
    match num("benchmark_duration") {
        Some(d) => secs(d + num("benchmark_grace_period").unwrap_or(30.0) + 600.0),
        None => Duration::from_secs(3600),
    }
}

/// Where aiperf's private temp dirs go: `$TMPDIR`, or `/tmp` when that is long. Kept SHORT on
/// purpose: aiperf puts ZeroMQ IPC sockets in it, and a socket path may not exceed 107 bytes.
fn tmp_base() -> PathBuf {
    let base = std::env::temp_dir();
    if base.as_os_str().len() > 32 { PathBuf::from("/tmp") } else { base }
}

/// The name prefix of a batch's temp dirs (`swp1a2b3c4d.`): the batch is known by it, so a
/// later `--resume` can clean what a killed session left.
fn tmp_prefix(batch_dir: &Path) -> String {
    let h = crate::plan::id::fnv1a(&batch_dir.display().to_string());
    format!("swp{:08x}.", h & 0xffff_ffff)
}

/// A new private temp dir for one aiperf run (its `TMPDIR`; aiperf leaves `aiperf_mmap_*` dirs
/// in it): created with a random name and mode 0700 by `mkdtemp`, so an existing file or
/// another user's directory is never used. Removed when the run ends.
pub fn private_tmp_dir(batch_dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let template = tmp_base().join(format!("{}XXXXXX", tmp_prefix(batch_dir)));
    let mut buf = std::ffi::CString::new(template.as_os_str().as_bytes())
        .map_err(std::io::Error::other)?
        .into_bytes_with_nul();
    // SAFETY: `buf` is a NUL-terminated template ending in XXXXXX, which mkdtemp rewrites in
    // place.
    let p = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    buf.pop();
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

/// Removes this batch's temp dirs that a session left (killed before it could): by `--resume`,
/// and by the batch's guardian once it has stopped what a dead sweeper left running;
/// only directories owned by this user. Returns how many.
pub fn remove_stale_tmp_dirs(batch_dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let prefix = tmp_prefix(batch_dir);
    // SAFETY: getuid has no arguments.
    let me = unsafe { libc::getuid() };
    let mut n = 0;
    for e in std::fs::read_dir(tmp_base()).into_iter().flatten().flatten() {
        let name = e.file_name();
        let ours = name.to_str().is_some_and(|s| s.starts_with(&prefix));
        if ours
            && let Ok(m) = std::fs::symlink_metadata(e.path())
            && m.is_dir()
            && m.uid() == me
            && std::fs::remove_dir_all(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// Runs aiperf to its end (or until it is stopped) and judges the outcome.
pub async fn run(
    mut l: Launch<'_>,
    srv: &mut Server,
    interrupts: &mut watch::Receiver<usize>,
    groups: &Groups,
) -> Outcome {
    let mut child = match start(&mut l).await {
        Ok(ch) => ch,
        Err(o) => return o,
    };
    let pgid = child.id().map_or(0, |p| p.cast_signed());
    groups.track(pgid);
    let log = Arc::new(tokio::sync::Mutex::new(Log::new(l.log)));
    let pumps = pump(&mut child, &log, l.redactor, l.live.as_ref());
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        ServerDied(String),
        Interrupted,
    }
    let end = tokio::select! {
        st = child.wait() => End::Exited(st),
        () = tokio::time::sleep(l.timeout) => End::TimedOut,
        why = srv.died() => End::ServerDied(why),
        _ = interrupts.changed() => End::Interrupted,
    };
    // Whatever happened, nothing of aiperf's may outlive this run.
    process::stop_group(&mut child, pgid, l.grace).await;
    groups.untrack(pgid);
    if let Some(g) = l.guardian.as_mut() {
        g.untrack(pgid);
    }
    for p in pumps {
        let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
    }
    log.lock().await.flush().await;
    let stopped = |status, reason: String| Outcome {
        status,
        returncode: None,
        signal: Some(libc::SIGTERM),
        reason: Some(reason),
        error_count: None,
        server_died: false,
    };
    match end {
        End::Exited(Ok(st)) => classify(l.dir, l.log, &st, (l.artifacts, l.profile_runs)),
        End::Exited(Err(e)) => Outcome::failed(format!("failed to wait for aiperf: {e}")),
        End::TimedOut => stopped(
            RunStatus::TimedOut,
            format!(
                "aiperf ran longer than the per-run timeout of {:.0}s and was stopped",
                l.timeout.as_secs_f64()
            ),
        ),
        End::ServerDied(why) => Outcome {
            server_died: true,
            ..Outcome::failed(format!(
                "the server died during the run ({why}){}",
                srv.log_tail_inline()
            ))
        },
        End::Interrupted => stopped(RunStatus::Interrupted, "interrupted by Ctrl-C".into()),
    }
}

/// Lets aiperf's exec go first. The spawn returns when the child starts its exec (`vfork`), and
/// the kernel wakes the run stage on the child's CPU, where it preempted the child for as long
/// as it then worked (telling the guardian; the first tick: the manifest's rewrite when due, the
/// reserve's refill), while the other CPU was idle (traced: 0.09 ms on a typical run). Yielding
/// puts the run stage behind the child on that CPU until the child blocks or another CPU takes
/// the run stage. Traced over 300 stub runs, twice each: spawn to exec 0.19-0.21 -> 0.13-0.14
/// ms (medians), 0.25-0.28 -> 0.14-0.15 ms (means).
fn after_spawn() {
    std::thread::yield_now();
}

/// Starts aiperf: itself, its group told to the batch's guardian; without a guardian (it could
/// not start, or died), under a supervisor of its own.
async fn start(l: &mut Launch<'_>) -> Result<tokio::process::Child, Outcome> {
    let Some(program) = l.argv.first() else {
        return Err(Outcome::failed("empty aiperf command".into()));
    };
    let mut cmd = if l.guardian.is_some() {
        l.supervision.guarded(l.argv)
    } else {
        l.supervision.command(l.argv, l.grace, None)
    };
    cmd.envs(l.env)
        .env("TMPDIR", l.tmp)
        .current_dir(l.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| Outcome::failed(format!("failed to start aiperf `{program}`: {e}")))?;
    after_spawn();
    // A guardian that is gone cannot be told: this run goes unguarded (`--resume` finds what
    // a kill -9 would leave of it by its marker), the next ones start under a supervisor.
    if let (Some(g), Some(pid)) = (l.guardian.as_mut(), child.id())
        && g.track(pid.cast_signed()).await.is_err()
    {
        *l.guardian = None;
    }
    Ok(child)
}

/// `aiperf.log`, created with aiperf's first line of output: a run that prints nothing leaves
/// no empty file, and costs no file creation between two runs. The run directory was just
/// written to (`run_metadata.json`); should the log still fail to open, its lines are lost and
/// the run is judged by its exit and its artifacts as ever.
struct Log {
    path: PathBuf,
    file: LogFile,
}

enum LogFile {
    /// No line yet.
    NotYet,
    Open(tokio::fs::File),
    /// It could not be created: the lines are dropped.
    Failed,
}

impl Log {
    fn new(path: &Path) -> Self {
        Log { path: path.to_owned(), file: LogFile::NotYet }
    }

    async fn line(&mut self, line: &str) {
        if let LogFile::NotYet = self.file {
            self.file = match tokio::fs::File::create(&self.path).await {
                Ok(f) => LogFile::Open(f),
                Err(_) => LogFile::Failed,
            };
        }
        if let LogFile::Open(f) = &mut self.file {
            let _ = f.write_all(line.as_bytes()).await;
            let _ = f.write_all(b"\n").await;
        }
    }

    async fn flush(&mut self) {
        if let LogFile::Open(f) = &mut self.file {
            let _ = f.flush().await;
        }
    }
}

/// Copies aiperf's stdout and stderr, line by line and secrets masked, into the log (and to
/// `live`); returns the pump tasks.
fn pump(
    child: &mut tokio::process::Child,
    log: &Arc<tokio::sync::Mutex<Log>>,
    redactor: &Redactor,
    live: Option<&mpsc::UnboundedSender<String>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    type Stream = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
    let out = child.stdout.take().map(|s| Box::new(s) as Stream);
    let err = child.stderr.take().map(|s| Box::new(s) as Stream);
    let mut pumps = Vec::new();
    for stream in [out, err].into_iter().flatten() {
        let log = log.clone();
        let red = redactor.clone();
        let live = live.cloned();
        pumps.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let line = red.redact(&line);
                if let Some(tx) = &live {
                    let _ = tx.send(line.clone());
                }
                log.lock().await.line(&line).await;
            }
        }));
    }
    pumps
}

/// Succeeded only if aiperf exited 0 AND its results are complete and parse
/// (the `artifacts` check the app supplies: the judgement reports and `--resume` use it too).
fn classify(
    dir: &Path,
    log_path: &Path,
    st: &std::process::ExitStatus,
    (artifacts, profile_runs): (ArtifactCheck, Option<u64>),
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let code = st.code();
    let mut o = Outcome { returncode: code, signal: st.signal(), ..Outcome::failed(String::new()) };
    if code != Some(0) {
        o.reason = Some(format!(
            "aiperf failed with {}: {}",
            process::describe_status(st),
            aiperf_reason(log_path)
        ));
        return o;
    }
    match artifacts(dir, profile_runs) {
        // aiperf 0.13 exits 0 after some internal failures: say what its log says.
        Artifacts::Incomplete(why) => {
            o.reason = Some(format!(
                "aiperf exited 0 but its results are incomplete ({why}); its log says: {}",
                aiperf_reason(log_path)
            ));
        }
        Artifacts::Complete { errors } => {
            o.error_count = Some(errors);
            if errors > 0 {
                o.status = RunStatus::Partial;
                o.reason = Some(format!("{errors} request(s) failed"));
            } else {
                o.status = RunStatus::Succeeded;
                o.reason = None;
            }
        }
    }
    o
}

/// The most useful line of a failed aiperf's log: its "Reason:" or last ERROR line.
fn aiperf_reason(log: &Path) -> String {
    let text = process::tail(log, 200);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if let Some(l) = lines.iter().rev().find(|l| l.contains("Reason:")) {
        return l.trim_matches(|c: char| c == '│' || c.is_whitespace()).to_owned();
    }
    if let Some(l) = lines.iter().rev().find(|l| l.contains("ERROR") || l.contains("Error")) {
        return l.chars().take(300).collect();
    }
    lines.last().map_or_else(|| "no output".to_owned(), |l| l.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::Log;

    /// `aiperf.log` exists once aiperf printed a line, and not before (issue 25: a run that
    /// prints nothing creates no file).
    #[test]
    fn the_log_is_created_with_the_first_line() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (silent, talks) = (tmp.path().join("silent.log"), tmp.path().join("talks.log"));
        rt.block_on(async {
            let mut log = Log::new(&silent);
            log.flush().await;
            let mut log = Log::new(&talks);
            log.line("one").await;
            log.line("two").await;
            log.flush().await;
        });
        assert!(!silent.exists(), "a silent run left a log");
        assert_eq!(std::fs::read_to_string(&talks).unwrap(), "one\ntwo\n");
    }
}
