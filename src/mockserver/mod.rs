//! The built-in OpenAI-compatible inference server (`sweeper mock-server`, server kind `mock`):
//! its parameters, the accept loop, start-up and shutdown.
//!
//! # Endpoints
//! `POST /v1/chat/completions` and `POST /v1/completions` (streaming SSE and non-streaming JSON),
//! `GET /v1/models`, `GET /health` (503 during `--startup-delay-ms`), and `GET /metrics`:
//! Prometheus text under vLLM's (V1) names, each sample labelled
//! `model_name="<model>",engine="0"` as vLLM labels them, so anything that reads vLLM's metrics
//! reads the mock's:
//!
//! * gauges `vllm:num_requests_running` (admitted, not finished), `vllm:num_requests_waiting`
//!   (queued, preempted ones included) and `vllm:kv_cache_usage_perc` (KV tokens held /
//!   `kv_cache_tokens`: a fraction, 1 = full, despite the name);
//! * counters `vllm:num_preemptions_total`, `vllm:prompt_tokens_total` (at each sequence's first
//!   admission), `vllm:generation_tokens_total`, `vllm:request_success_total`
//!   (`finished_reason="length"`, for every sequence that emitted all its tokens),
//!   `vllm:prefix_cache_queries_total` (tokens prefilled at every admission) and
//!   `vllm:prefix_cache_hits_total` (always 0: the mock has no prefix cache);
//! * histograms `vllm:time_to_first_token_seconds` (arrival to the first token's release) and
//!   `vllm:request_queue_time_seconds` (arrival to first admission), over vLLM's TTFT buckets
//!   (1 ms to 2560 s);
//! * and the server's own counters, unlabelled: `mock_requests_total` (inference requests
//!   received) and `mock_request_errors_total` (answered 4xx or 5xx).
//!
//! # Serving model (see [`model`])
//! Every inference request becomes one sequence. With `P` = estimated prompt tokens
//! (`ceil(chars / 4)` over the prompt or all message contents) and `R` = sequences running:
//!
//! * at most `max_num_seqs` sequences run at once; the others wait in a FIFO queue, and a waiting
//!   sequence is admitted the moment a running one finishes (or its client disconnects);
//! * first token at `admission + prefill_base_ms + prefill_per_token_ms * P`;
//! * each next token `decode_base_ms + decode_per_seq_ms * R` after the previous one, with `R`
//!   counted when the previous token was emitted (prefilling sequences count as running);
//! * exactly `max_completion_tokens` (chat), else `max_tokens`, else `default_max_tokens` tokens.
//!
//! So below saturation TTFT is the prefill time and ITL grows slowly with load; past
//! `max_num_seqs` the queue makes TTFT grow while throughput plateaus at
//! `max_num_seqs / (decode_base_ms + decode_per_seq_ms * max_num_seqs)` tokens per ms.
//!
//! The KV cache holds `kv_cache_tokens` tokens (by default so many that it never binds); a
//! running sequence holds `P` plus the tokens it has emitted:
//!
//! * a waiting sequence is admitted only while a slot is free and its tokens (`P`, plus those it
//!   streamed before a preemption, plus the one its prefill produces) fit beside the running
//!   ones; when the head of the queue does not fit, nothing behind it is admitted;
//! * each token takes one more slot; when none is free, the most recently admitted running
//!   sequences are preempted until one is (vLLM's recompute preemption): a preempted sequence
//!   frees its slots, goes back to the front of the queue, and when admitted again pays the
//!   prefill over `P` plus the tokens it already streamed, then continues its stream where it
//!   stopped (its client only sees a longer gap; it still gets exactly its tokens, in order);
//! * a request whose `P` plus output tokens exceed the cache could never finish: it is answered
//!   HTTP 400 (`context_length_exceeded`) at once.
//!
//! Each token is one short common English word with a leading space (" the", " and", ...), which
//! re-tokenizes as exactly one token, so clients that count tokens by re-tokenizing agree with
//! `usage.completion_tokens`.
//!
//! # Connections (see [`conn`])
//! A client that has not sent a request's complete headers `header_read_timeout_ms` after their
//! first byte is disconnected (slowloris), and so is a connection with no request in flight for
//! `idle_timeout_ms`; a streaming response, however long, is in flight.
//!
//! # Faults (see [`faults`]), all off by default
//! start-up delay, seeded HTTP 500s, a required API key read from a named environment variable,
//! dying after N answered requests, and streams that stall after K tokens.

mod conn;
mod faults;
mod http;
pub mod model;
#[doc(hidden)]
pub mod probe;
mod request;
mod response;
pub use http::TIMING_HEADER;

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use faults::{FaultConfig, Faults};
use http::Shared;
use model::{Engine, Timing};

/// Parameters of the mock server's serving model and fault injection. The same struct is the
/// `server: {kind: mock, ...}` section of a config and the flags of `sweeper mock-server`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MockParams {
    /// Model name listed by `GET /v1/models`. Requests may name any model; responses echo it.
    pub model: String,
    /// Most sequences decoded at once; the rest wait in a FIFO queue.
    #[schemars(range(min = 1))]
    pub max_num_seqs: u32,
    /// Prefill time in ms that every request pays before its first token.
    #[schemars(range(min = 0.0))]
    pub prefill_base_ms: f64,
    /// Prefill time in ms per estimated prompt token (estimate: characters / 4, rounded up).
    #[schemars(range(min = 0.0))]
    pub prefill_per_token_ms: f64,
    /// Fixed part of the time in ms between two tokens of one sequence.
    #[schemars(range(min = 0.0))]
    pub decode_base_ms: f64,
    /// Time in ms added to every decode step per running sequence.
    #[schemars(range(min = 0.0))]
    pub decode_per_seq_ms: f64,
    /// Tokens the KV cache holds. A running sequence holds its prompt tokens plus the tokens it
    /// has emitted; a waiting one is admitted only if it fits, and when a token finds the cache
    /// full the most recently admitted sequences are preempted (recomputed later, as vLLM does).
    /// A request whose prompt plus output tokens exceed it is answered HTTP 400. The default is
    /// too large to matter.
    #[schemars(range(min = 1))]
    pub kv_cache_tokens: u64,
    /// Output tokens when a request sets neither `max_tokens` nor `max_completion_tokens`.
    #[schemars(range(min = 1))]
    pub default_max_tokens: u32,
    /// Largest request body accepted, in bytes; larger ones get HTTP 413.
    pub max_body_bytes: u64,
    /// Ms a client has to finish sending a request's headers, counted from their first byte; a
    /// slower client (slowloris) is disconnected without an answer. 0 = no limit.
    #[schemars(range(max = 86400000))]
    pub header_read_timeout_ms: u64,
    /// Ms a connection may stay open with no request in flight (none being received or
    /// answered, and no byte of the next one) before the server closes it. A streaming response
    /// is in flight however long it runs or pauses. 0 = never closed.
    #[schemars(range(max = 86400000))]
    pub idle_timeout_ms: u64,
    /// Fault: after each response the connection is closed this many ms later, whatever is
    /// in flight by then (a request sent on it meanwhile gets no answer), although every
    /// response advertises keep-alive: how llama.cpp's server treats streamed responses, with a
    /// window wide enough that a client reusing the connection always writes into it. 0 = off.
    pub close_after_response_ms: u64,
    /// Fault: ms after start during which `/health` and inference answer HTTP 503.
    pub startup_delay_ms: u64,
    /// Fault: fraction (0 to 1) of valid inference requests answered HTTP 500, chosen by `seed`.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: f64,
    /// Fault: fraction (0 to 1) of valid inference requests that stall: after
    /// `stall_after_tokens` tokens nothing more is sent, but the connection stays open.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub stall_rate: f64,
    /// Fault: tokens a stalling request sends before it stalls.
    pub stall_after_tokens: u32,
    /// Fault: exit (status 1) once this many inference requests have been answered; 0 = never.
    pub exit_after_requests: u64,
    /// Fault: require `Authorization: Bearer <key>` on `/v1/` paths, where <key> is read at
    /// start-up from the environment variable of this NAME (the key itself is never a flag).
    pub api_key_env: Option<String>,
    /// Seed of the `error_rate` and `stall_rate` decisions (the n-th valid request's fate is a
    /// function of the seed and n).
    pub seed: u64,
    /// Fault: ignore the request's `max_tokens`/`max_completion_tokens` and always answer
    /// `default_max_tokens` tokens, like servers that stop at their own limit or at EOS.
    pub ignore_max_tokens: bool,
}

/// Default `kv_cache_tokens`: 2^20, more than any ordinary load holds (64 sequences of 16,000
/// tokens each), so by default the KV cache never binds.
pub const DEFAULT_KV_CACHE_TOKENS: u64 = 1 << 20;

/// Largest `header_read_timeout_ms` and `idle_timeout_ms`: one day.
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

impl Default for MockParams {
    fn default() -> Self {
        Self {
            model: "mock-model".into(),
            max_num_seqs: 64,
            prefill_base_ms: 10.0,
            prefill_per_token_ms: 0.02,
            decode_base_ms: 5.0,
            decode_per_seq_ms: 0.05,
            kv_cache_tokens: DEFAULT_KV_CACHE_TOKENS,
            default_max_tokens: 16,
            max_body_bytes: 4 * 1024 * 1024,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            close_after_response_ms: 0,
            startup_delay_ms: 0,
            error_rate: 0.0,
            stall_rate: 0.0,
            stall_after_tokens: 1,
            exit_after_requests: 0,
            api_key_env: None,
            seed: 0,
            ignore_max_tokens: false,
        }
    }
}

/// Longest model time (prefill or decode step parts) accepted, in ms: one hour.
pub const MAX_MODEL_MS: f64 = 3_600_000.0;
/// Longest start-up delay accepted, in ms: one day.
pub const MAX_DELAY_MS: u64 = 86_400_000;

/// A mock-server parameter out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// A count that must be at least 1 (`max_num_seqs`, `kv_cache_tokens`, `default_max_tokens`)
    /// is 0.
    #[error("`{param}` must be at least 1")]
    Zero { param: &'static str },
    /// A model time (prefill or decode part) outside 0 to [`MAX_MODEL_MS`]; `got` as shown.
    #[error("`{param}` must be between 0 and {} ms, got {got}", MAX_MODEL_MS)]
    ModelTime { param: &'static str, got: String },
    /// `startup_delay_ms` above [`MAX_DELAY_MS`].
    #[error("`startup_delay_ms` must be at most {} (one day), got {got}", MAX_DELAY_MS)]
    StartupDelay { got: u64 },
    /// A connection timeout above [`MAX_TIMEOUT_MS`].
    #[error("`{param}` must be at most {} ms (one day; 0 = no limit), got {got}", MAX_TIMEOUT_MS)]
    Timeout { param: &'static str, got: u64 },
    /// A rate outside 0 to 1.
    #[error("`{param}` must be a fraction between 0 and 1, got {got}")]
    NotAFraction { param: &'static str, got: f64 },
    /// `api_key_env` is empty.
    #[error("`api_key_env` must name an environment variable")]
    EmptyApiKeyEnv,
}

impl ParamError {
    /// The parameter's key.
    pub fn param(&self) -> &'static str {
        match self {
            ParamError::Zero { param }
            | ParamError::ModelTime { param, .. }
            | ParamError::Timeout { param, .. }
            | ParamError::NotAFraction { param, .. } => param,
            ParamError::StartupDelay { .. } => "startup_delay_ms",
            ParamError::EmptyApiKeyEnv => "api_key_env",
        }
    }
}

impl MockParams {
    /// Checks the ranges the types cannot express.
    ///
    /// # Errors
    /// The first bad parameter.
    pub fn validate(&self) -> Result<(), ParamError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every parameter out of range. A config's `server: {kind: mock}` is checked with this
    /// when it is validated, the command line when the server starts.
    pub fn problems(&self) -> Vec<ParamError> {
        let mut out = Vec::new();
        if self.max_num_seqs == 0 {
            out.push(ParamError::Zero { param: "max_num_seqs" });
        }
        if self.kv_cache_tokens == 0 {
            out.push(ParamError::Zero { param: "kv_cache_tokens" });
        }
        if self.default_max_tokens == 0 {
            out.push(ParamError::Zero { param: "default_max_tokens" });
        }
        for (param, v) in [
            ("prefill_base_ms", self.prefill_base_ms),
            ("prefill_per_token_ms", self.prefill_per_token_ms),
            ("decode_base_ms", self.decode_base_ms),
            ("decode_per_seq_ms", self.decode_per_seq_ms),
        ] {
            if !(v.is_finite() && (0.0..=MAX_MODEL_MS).contains(&v)) {
                let got =
                    if v.is_finite() && v.abs() >= 1e9 { format!("{v:e}") } else { format!("{v}") };
                out.push(ParamError::ModelTime { param, got });
            }
        }
        if self.startup_delay_ms > MAX_DELAY_MS {
            out.push(ParamError::StartupDelay { got: self.startup_delay_ms });
        }
        for (param, got) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("close_after_response_ms", self.close_after_response_ms),
        ] {
            if got > MAX_TIMEOUT_MS {
                out.push(ParamError::Timeout { param, got });
            }
        }
        for (param, got) in [("error_rate", self.error_rate), ("stall_rate", self.stall_rate)] {
            if !(0.0..=1.0).contains(&got) {
                out.push(ParamError::NotAFraction { param, got });
            }
        }
        if self.api_key_env.as_deref().is_some_and(str::is_empty) {
            out.push(ParamError::EmptyApiKeyEnv);
        }
        out
    }

    fn limits(&self) -> conn::Limits {
        let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
        conn::Limits {
            header_read: ms(self.header_read_timeout_ms),
            idle: ms(self.idle_timeout_ms),
            close_after_response: ms(self.close_after_response_ms),
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            max_num_seqs: self.max_num_seqs as usize,
            prefill_base_ms: self.prefill_base_ms,
            prefill_per_token_ms: self.prefill_per_token_ms,
            decode_base_ms: self.decode_base_ms,
            decode_per_seq_ms: self.decode_per_seq_ms,
            kv_cache_tokens: self.kv_cache_tokens,
        }
    }
}

/// Why [`MockServer::serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeOutcome {
    /// The shutdown future completed.
    Shutdown,
    /// `exit_after_requests` requests were answered (the injected crash).
    Died,
}

/// A mock server that could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockServerError {
    #[error("invalid mock-server parameters: {0}")]
    Params(ParamError),
    #[error(
        "the API key variable `{0}` (from `api_key_env`) is not set or empty\nhint: export {0}=<key> before starting the server, or drop `api_key_env`"
    )]
    MissingApiKey(String),
    #[error("failed to start the mock engine (timer): {0}")]
    Engine(std::io::Error),
    #[error("failed to start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("failed to listen on `{host}:{port}`: {source}")]
    Listen { host: String, port: u16, source: std::io::Error },
    #[error("failed to read the listening address: {0}")]
    Address(std::io::Error),
}

impl MockServerError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        match self {
            MockServerError::Listen { .. } => {
                Some("pick another --port, or --port 0 for any free port".into())
            }
            _ => None,
        }
    }
}

/// A configured server, ready to serve on a listener.
#[derive(Debug)]
pub struct MockServer {
    params: MockParams,
    api_key: Option<String>,
}

impl MockServer {
    /// Validates `params` and reads the API key from the variable `api_key_env` names.
    ///
    /// # Errors
    /// Bad parameters, or an unset key variable.
    pub fn new(params: MockParams) -> Result<Self, MockServerError> {
        params.validate().map_err(MockServerError::Params)?;
        let api_key = match &params.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Some(k),
                _ => return Err(MockServerError::MissingApiKey(var.clone())),
            },
        };
        Ok(Self { params, api_key })
    }

    /// Serves until `shutdown` completes (then stops accepting, lets open connections finish for
    /// up to a second, and drops the rest) or the injected crash fires (drops everything at once).
    ///
    /// # Errors
    /// When the engine cannot be started (no timer descriptor).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ServeOutcome, MockServerError> {
        let p = self.params;
        reserve_file_descriptors(&listener);
        let engine = Engine::start(p.timing()).map_err(MockServerError::Engine)?;
        let limits = p.limits();
        let faults = Faults::new(FaultConfig {
            startup_delay: Duration::from_millis(p.startup_delay_ms),
            error_rate: p.error_rate,
            stall_rate: p.stall_rate,
            stall_after_tokens: p.stall_after_tokens,
            seed: p.seed,
            api_key: self.api_key,
            exit_after_requests: p.exit_after_requests,
        });
        let shared = Arc::new({
            let mut sh =
                Shared::new(engine, faults, p.model, p.default_max_tokens, p.max_body_bytes);
            sh.ignore_max_tokens = p.ignore_max_tokens;
            sh
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        let outcome = loop {
            tokio::select! {
                () = &mut shutdown => break ServeOutcome::Shutdown,
                () = shared.faults.die.notified() => break ServeOutcome::Died,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        conns.spawn(conn::serve(stream, Arc::clone(&shared), limits, stop_rx.clone()));
                    }
                    // Out of file descriptors or a connection reset before accept: keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
            }
        };
        drop(listener);
        match outcome {
            ServeOutcome::Shutdown => {
                let _ = stop_tx.send(true);
                let drain = async { while conns.join_next().await.is_some() {} };
                let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            }
            ServeOutcome::Died => {
                // Let the last answer's bytes reach the socket, then drop every connection.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        conns.shutdown().await;
        Ok(outcome)
    }
}

/// Serves `params` on `listener` until `shutdown` completes; see [`MockServer::serve`].
///
/// # Errors
/// See [`MockServer::new`] and [`MockServer::serve`].
pub async fn serve(
    listener: TcpListener,
    params: MockParams,
    shutdown: impl Future<Output = ()>,
) -> Result<ServeOutcome, MockServerError> {
    MockServer::new(params)?.serve(listener, shutdown).await
}

/// Runs the server until SIGINT/SIGTERM; returns the process exit code (0 after a signal, 1 after
/// the injected crash), or why it cannot start (the caller prints it: exit 2).
pub fn main(host: &str, port: u16, params: MockParams) -> Result<u8, MockServerError> {
    let exit_after = params.exit_after_requests;
    let server = MockServer::new(params)?;
    raise_open_files_limit();
    let runtime = runtime().map_err(MockServerError::Runtime)?;
    runtime.block_on(async move {
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|source| MockServerError::Listen { host: host.to_owned(), port, source })?;
        let addr = listener.local_addr().map_err(MockServerError::Address)?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
        drop(stdout);
        match server.serve(listener, shutdown_signal()).await? {
            ServeOutcome::Shutdown => Ok(0),
            ServeOutcome::Died => {
                err_line(&format!(
                    "mock-server: exiting after {exit_after} requests (--exit-after-requests)"
                ));
                Ok(1)
            }
        }
    })
}

/// Raises the soft limit on open files to the hard limit: each streaming client holds a socket,
/// and a common soft limit of 1024 would cap a 1,000-stream sweep. Failure only lowers capacity.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &raw const lim);
        }
    }
}

/// Most file descriptors [`reserve_file_descriptors`] makes room for (a table of this size costs
/// the kernel about 0.5 MB).
const RESERVED_FDS: u64 = 65_536;

/// Grows the process's file-descriptor table once, now, to the open-files limit (at most
/// [`RESERVED_FDS`]), so that accepting connections never has to.
///
/// The kernel grows the table by doubling (64, 128, 256, ... descriptors), and in a process with
/// several threads each growth waits for an RCU grace period (`synchronize_rcu`), which takes
/// 10-30 ms on a small VM. The thread that opens the descriptor crossing the boundary (usually the
/// runtime thread in `accept`) is blocked that long, and with it every stream: the load benchmark
/// saw every chunk due in those 10-30 ms written late, at 64, 128, ... 1024 open connections.
/// Growing it once at start-up costs one such wait before anything is served.
///
/// `F_DUPFD` picks the lowest free descriptor at or above the one asked for, so no descriptor in
/// use is touched; the duplicate is closed at once (the table does not shrink).
fn reserve_file_descriptors(listener: &TcpListener) {
    use std::os::fd::AsRawFd as _;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit with a valid pointer to a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } != 0 {
        return;
    }
    let Ok(highest) = libc::c_int::try_from(lim.rlim_cur.min(RESERVED_FDS).saturating_sub(1))
    else {
        return;
    };
    if highest < 64 {
        return;
    }
    // SAFETY: duplicating a descriptor we own and closing only the duplicate we got back.
    unsafe {
        let fd = libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, highest);
        if fd >= 0 {
            libc::close(fd);
        }
    }
}

/// The runtime `sweeper mock-server` runs on: one thread, which also runs the engine. One thread
/// serves well over 50,000 streamed tokens/s, and it leaves the other cores to the benchmark
/// client that shares the machine; a multi-threaded runtime spent more CPU on waking its own
/// workers than on serving.
///
/// # Errors
/// When the OS refuses the runtime's resources.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// A line on stderr; a closed stderr is ignored.
fn err_line(s: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{s}");
}

/// Completes on SIGINT or SIGTERM. If the handlers cannot be installed, never completes (the
/// default signal disposition then ends the process).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_and_default_agree() {
        let from_yaml: MockParams = serde_json::from_str("{}").expect("empty object is valid");
        assert_eq!(from_yaml, MockParams::default());
        assert!(MockParams::default().validate().is_ok());
    }

    /// The kernel's file-descriptor table capacity (`FDSize` in `/proc/self/status`).
    fn fd_table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("FDSize line")
    }

    #[test]
    fn file_descriptor_table_is_grown_once_up_front() {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit with a valid pointer to a local struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) }, 0);
        let rt = runtime().expect("runtime");
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        reserve_file_descriptors(&listener);
        assert!(fd_table_size() >= lim.rlim_cur.min(RESERVED_FDS), "{}", fd_table_size());
        // Nothing was closed or left open: the listener still works.
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&listener), fd);
        assert!(listener.local_addr().is_ok());
    }

    #[test]
    fn validate_rejects_bad_values() {
        let bad = [
            MockParams { max_num_seqs: 0, ..MockParams::default() },
            MockParams { kv_cache_tokens: 0, ..MockParams::default() },
            MockParams { error_rate: 1.5, ..MockParams::default() },
            MockParams { decode_base_ms: f64::NAN, ..MockParams::default() },
            MockParams { prefill_base_ms: -1.0, ..MockParams::default() },
            MockParams { header_read_timeout_ms: MAX_TIMEOUT_MS + 1, ..MockParams::default() },
            MockParams { idle_timeout_ms: u64::MAX, ..MockParams::default() },
        ];
        for p in bad {
            assert!(p.validate().is_err(), "{p:?}");
        }
        let off =
            MockParams { header_read_timeout_ms: 0, idle_timeout_ms: 0, ..MockParams::default() };
        assert!(off.validate().is_ok());
        assert_eq!(
            off.limits(),
            conn::Limits { header_read: None, idle: None, close_after_response: None }
        );
    }
}
