//! HTTP: routing, the inference handler (faults, the engine, then a response), and the
//! Prometheus `/metrics` text (vLLM's metric names). Requests are parsed in [`super::request`],
//! answered in [`super::response`].

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::faults::{Fate, Faults};
use super::model::{Engine, Histogram, LATENCY_BUCKETS, SubmitError};
use super::request::{Kind, parse_job, read_body};
use super::response::{
    ApiError, MockBody, SseStream, chunk_head, complete_response, json_response, sse_response,
};

/// Everything a request handler needs.
#[derive(Debug)]
pub struct Shared {
    pub engine: Engine,
    pub faults: Faults,
    pub model: String,
    pub default_max_tokens: u32,
    pub max_body_bytes: u64,
    pub requests_total: AtomicU64,
    pub errors_total: AtomicU64,
    /// Fault: answer `default_max_tokens` whatever the request asks for.
    pub ignore_max_tokens: bool,
    next_id: AtomicU64,
    /// The server's start: per-chunk timings ([`TIMING_HEADER`]) are microseconds since it.
    pub(super) epoch: Instant,
}

/// A request with this header set (any value) gets the server's own timing of every token in
/// its SSE chunks (`"mock_timing": {...}`, microseconds since the server started): when the
/// sequence arrived and was admitted, the token's model deadline, when the engine released it,
/// when its chunk was written, and the running count of the decode step. Tests assert the
/// serving model on these, not on when a (possibly loaded) client happened to read a chunk.
pub const TIMING_HEADER: &str = "x-mock-timing";

impl Shared {
    pub fn new(
        engine: Engine,
        faults: Faults,
        model: String,
        default_max_tokens: u32,
        max_body_bytes: u64,
    ) -> Self {
        Self {
            engine,
            faults,
            model,
            default_max_tokens,
            max_body_bytes,
            requests_total: AtomicU64::new(0),
            errors_total: AtomicU64::new(0),
            ignore_max_tokens: false,
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

/// Routes one request.
pub async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<MockBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let kind = match path.as_str() {
        "/v1/chat/completions" => Some(Kind::Chat),
        "/v1/completions" => Some(Kind::Text),
        _ => None,
    };
    let response = match (kind, &method, path.as_str()) {
        (Some(kind), &Method::POST, _) => {
            shared.requests_total.fetch_add(1, Ordering::Relaxed);
            let r = inference(req, kind, &shared).await;
            let r = r.unwrap_or_else(ApiError::into_response);
            if !r.status().is_success() {
                shared.errors_total.fetch_add(1, Ordering::Relaxed);
            }
            if !matches!(r.body(), MockBody::Sse(_)) {
                shared.faults.answered();
            }
            r
        }
        (Some(_), _, _) => method_not_allowed(&method, &path, "POST"),
        (None, &Method::GET | &Method::HEAD, "/v1/models") => {
            if !shared.faults.authorized(auth_header(&req)) {
                unauthorized().into_response()
            } else {
                json_response(
                    StatusCode::OK,
                    &json!({"object": "list", "data": [{
                        "id": shared.model, "object": "model", "created": now_secs(), "owned_by": "sweeper"
                    }]}),
                )
            }
        }
        (None, &Method::GET | &Method::HEAD, "/health") => {
            if shared.faults.ready() {
                json_response(StatusCode::OK, &json!({"status": "ok"}))
            } else {
                not_ready().into_response()
            }
        }
        (None, &Method::GET | &Method::HEAD, "/metrics") => metrics(&shared),
        (None, _, "/v1/models" | "/health" | "/metrics") => method_not_allowed(&method, &path, "GET, HEAD"),
        (None, _, _) => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            format!("unknown URL: {method} {path}; this server serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health and GET /metrics"),
        )
        .into_response(),
    };
    Ok(response)
}

fn method_not_allowed(method: &Method, path: &str, allow: &'static str) -> Response<MockBody> {
    let mut r = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        Some("method_not_allowed"),
        format!("method {method} is not allowed on {path}; use {allow}"),
    )
    .into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        Some("invalid_api_key"),
        "missing or incorrect API key: send the header `Authorization: Bearer <key>` with the key the server was started with",
    )
}

fn not_ready() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        Some("not_ready"),
        "the server is starting up (--startup-delay-ms); retry later",
    )
}

fn auth_header(req: &Request<Incoming>) -> Option<&[u8]> {
    req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Answers one inference request: the faults first (dying, not ready, no key), then the request
/// is parsed, its fate drawn (an injected error, a stall) and its tokens asked of the engine.
async fn inference(
    req: Request<Incoming>,
    kind: Kind,
    shared: &Arc<Shared>,
) -> Result<Response<MockBody>, ApiError> {
    if shared.faults.dying() {
        // About to exit: never answer, like a process that is going away.
        std::future::pending::<()>().await;
    }
    if !shared.faults.ready() {
        return Err(not_ready());
    }
    if !shared.faults.authorized(auth_header(&req)) {
        return Err(unauthorized());
    }
    let timing = req.headers().contains_key(TIMING_HEADER);
    let body = read_body(req, shared.max_body_bytes).await?;
    let mut job = parse_job(kind, &body, &shared.model, shared.default_max_tokens)?;
    job.timing = timing;
    if shared.ignore_max_tokens {
        job.max_tokens = shared.default_max_tokens;
        job.limited = false;
    }
    // A request that could never fit in the KV cache is invalid: refused before its fate is drawn.
    shared.engine.check(job.prompt_tokens, job.max_tokens).map_err(|e| submit_error(e, kind))?;
    let fate = shared.faults.next_fate();
    if fate == Fate::Fail {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            Some("injected_error"),
            "injected error (--error-rate)",
        ));
    }
    let stall_after = match fate {
        Fate::Stall(k) => Some(k),
        _ => None,
    };
    let tokens = shared
        .engine
        .submit(job.prompt_tokens, job.max_tokens)
        .map_err(|e| submit_error(e, kind))?;
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let id = match kind {
        Kind::Chat => format!("chatcmpl-mock-{n}"),
        Kind::Text => format!("cmpl-mock-{n}"),
    };
    let created = now_secs();
    if job.stream {
        let head = chunk_head(kind, &id, created, &job.model);
        // Stalling after 0 tokens: headers only.
        let tokens = if stall_after == Some(0) { None } else { Some(tokens) };
        let stream = SseStream::new(tokens, n, Arc::clone(shared), job, head, stall_after);
        return Ok(sse_response(stream));
    }
    Ok(complete_response(tokens, &job, &id, created, stall_after).await)
}

/// The answer to a sequence the engine refused.
fn submit_error(e: SubmitError, kind: Kind) -> ApiError {
    match e {
        SubmitError::TooLarge { prompt_tokens, max_tokens, kv_cache_tokens } => {
            let needed = u64::from(prompt_tokens) + u64::from(max_tokens);
            let (param, what) = match kind {
                Kind::Chat => ("messages", "messages"),
                Kind::Text => ("prompt", "prompt"),
            };
            ApiError::invalid(
                param,
                "context_length_exceeded",
                format!(
                    "this request needs {needed} KV-cache tokens ({prompt_tokens} in the {what} and {max_tokens} to generate), but the KV cache holds {kv_cache_tokens} (--kv-cache-tokens); shorten the {what} or ask for fewer tokens"
                ),
            )
        }
        SubmitError::EngineGone => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            Some("engine_stopped"),
            "the mock engine has stopped",
        ),
    }
}

/// The engine's counters: name, help, extra labels, value.
fn engine_counters(
    s: &super::model::EngineStats,
) -> [(&'static str, &'static str, &'static str, u64); 6] {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    [
        (
            "vllm:num_preemptions_total",
            "Cumulative number of preemption from the engine.",
            "",
            load(&s.preemptions),
        ),
        (
            "vllm:prompt_tokens_total",
            "Number of prefill tokens processed.",
            "",
            load(&s.prompt_tokens),
        ),
        (
            "vllm:generation_tokens_total",
            "Number of generation tokens processed.",
            "",
            load(&s.tokens_generated),
        ),
        (
            "vllm:request_success_total",
            "Count of successfully processed requests.",
            ",finished_reason=\"length\"",
            load(&s.successes),
        ),
        (
            "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.",
            "",
            load(&s.prefix_cache_queries),
        ),
        (
            "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens (the mock has no prefix cache).",
            "",
            0,
        ),
    ]
}

/// The Prometheus text (format 0.0.4) of the engine's metrics, under vLLM's (V1) names and
/// labels, and the server's own HTTP counters.
fn metrics(shared: &Shared) -> Response<MockBody> {
    let s = shared.engine.stats();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut m = Exposition {
        out: String::with_capacity(8192),
        labels: format!("model_name=\"{}\",engine=\"0\"", label_value(&shared.model)),
    };
    m.gauge(
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        to_f64(load(&s.running)),
    );
    m.gauge(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        to_f64(load(&s.waiting)),
    );
    m.gauge(
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        to_f64(load(&s.kv_tokens_used)) / to_f64(shared.engine.kv_cache_tokens()),
    );
    for (name, help, extra, v) in engine_counters(s) {
        m.counter(name, help, extra, v);
    }
    m.histogram(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        &s.ttft,
    );
    m.histogram(
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        &s.queue_time,
    );
    // The server's own counters (HTTP, not the engine), without labels.
    m.labels.clear();
    m.counter(
        "mock_requests_total",
        "Inference requests received (POST /v1/chat/completions and /v1/completions).",
        "",
        load(&shared.requests_total),
    );
    m.counter(
        "mock_request_errors_total",
        "Inference requests answered with an error status (4xx or 5xx).",
        "",
        load(&shared.errors_total),
    );
    let mut r = Response::new(MockBody::Full(Some(Bytes::from(m.out))));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

/// Prometheus text, every sample with the same labels.
struct Exposition {
    out: String,
    /// `model_name="...",engine="0"` (escaped), or empty.
    labels: String,
}

impl Exposition {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// One sample: `name{labels,extra} value`; `extra` is empty or starts with a comma.
    fn sample(&mut self, name: &str, extra: &str, value: impl std::fmt::Display) {
        let labels = format!("{}{extra}", self.labels);
        let labels = labels.strip_prefix(',').unwrap_or(&labels);
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }

    /// A gauge, written as a float (`4.0`, `0.25`).
    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.head(name, "gauge", help);
        self.sample(name, "", PromFloat(value));
    }

    /// A counter (named with its `_total`, as Python's client writes it).
    fn counter(&mut self, name: &str, help: &str, extra: &str, value: u64) {
        self.head(name, "counter", help);
        self.sample(name, extra, value);
    }

    /// A histogram: its cumulative `_bucket`s (`+Inf` last), `_sum` and `_count`.
    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.head(name, "histogram", help);
        let (cumulative, sum) = h.snapshot();
        let bucket = format!("{name}_bucket");
        for (le, n) in LATENCY_BUCKETS.iter().zip(&cumulative) {
            self.sample(&bucket, &format!(",le=\"{}\"", PromFloat(*le)), n);
        }
        let count = cumulative[LATENCY_BUCKETS.len()];
        self.sample(&bucket, ",le=\"+Inf\"", count);
        self.sample(&format!("{name}_sum"), "", PromFloat(sum));
        self.sample(&format!("{name}_count"), "", count);
    }
}

/// A float as Prometheus (and Python's client) write it: always with a decimal point or an
/// exponent (`4.0`, `0.001`, `2560.0`, `1e-7`).
struct PromFloat(f64);

impl std::fmt::Display for PromFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v.is_infinite() => f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" }),
            v => write!(f, "{v:?}"),
        }
    }
}

/// A count as a float, for a gauge.
fn to_f64(v: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "counts and cache sizes are far below 2^52")]
    let v = v as f64;
    v
}

/// A label value escaped for the text format: backslash, double quote and line feed.
fn label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
