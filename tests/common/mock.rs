//! The built-in mock server, in-process on a tokio runtime or as the `sweeper mock-server`
//! process.

use std::net::SocketAddr;
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use sweeper::mockserver::{MockParams, MockServerError, ServeOutcome, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The mock server served in-process on 127.0.0.1 (an ephemeral port), stopped by [`stop`].
///
/// [`stop`]: MockServer::stop
pub struct MockServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<ServeOutcome, MockServerError>>,
}

impl MockServer {
    /// Starts serving `params` on the current tokio runtime.
    pub async fn start(params: MockParams) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, params, async move {
            let _ = stopped.await;
        }));
        Self { addr, stop: Some(stop), task }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks the server to stop and waits (up to 60 s) for how it ended.
    pub async fn stop(mut self) -> ServeOutcome {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.ended().await
    }

    /// Waits (up to 60 s) for the server to end on its own (a fault), without asking it to.
    pub async fn ended(mut self) -> ServeOutcome {
        // Dropping the sender would ask for a shutdown: it lives until the server has ended.
        let _keep = self.stop.take();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("server ends within 60 s")
            .expect("server task did not panic")
            .expect("server ran")
    }
}

/// `sweeper mock-server` as a child process, killed when dropped.
pub struct MockProcess {
    child: Child,
    /// Where it listens (`http://127.0.0.1:<port>`), from its first line.
    pub url: String,
}

impl MockProcess {
    /// Runs `sweeper mock-server ARGS` with `env` added, and returns once it printed its
    /// `listening on URL` line (within 60 s).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> MockProcess {
        use std::io::BufRead;
        let mut child = super::sweeper()
            .arg("mock-server")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sweeper mock-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("listening line within 60 s");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        MockProcess { child, url }
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Waits up to `t` for it to exit; `None` if it still runs.
    pub fn wait(&mut self, t: Duration) -> Option<ExitStatus> {
        let mut status = None;
        super::wait_for(t, || {
            status = self.child.try_wait().expect("wait");
            status.is_some()
        });
        status
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
