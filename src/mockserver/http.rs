//! HTTP: routing, the inference handler (faults, the engine, then a response), and the
//! Prometheus `/metrics` text. Requests are parsed in [`super::request`], answered in
//! [`super::response`].

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
use super::model::Engine;
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
    let tokens = shared.engine.submit(job.prompt_tokens, job.max_tokens).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            Some("engine_stopped"),
            "the mock engine has stopped",
        )
    })?;
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

/// The Prometheus text of the engine's and the server's counters.
fn metrics(shared: &Shared) -> Response<MockBody> {
    let s = shared.engine.stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
    };
    metric(
        "mock_num_requests_running",
        "gauge",
        "Sequences admitted and not finished (prefill or decode).",
        s.running.load(Ordering::Relaxed),
    );
    metric(
        "mock_num_requests_waiting",
        "gauge",
        "Sequences waiting in the FIFO queue for a free slot.",
        s.waiting.load(Ordering::Relaxed),
    );
    metric(
        "mock_generation_tokens_total",
        "counter",
        "Output tokens generated.",
        s.tokens_generated.load(Ordering::Relaxed),
    );
    metric(
        "mock_requests_total",
        "counter",
        "Inference requests received (POST /v1/chat/completions and /v1/completions).",
        shared.requests_total.load(Ordering::Relaxed),
    );
    metric(
        "mock_request_errors_total",
        "counter",
        "Inference requests answered with an error status (4xx or 5xx).",
        shared.errors_total.load(Ordering::Relaxed),
    );
    let mut r = Response::new(MockBody::Full(Some(Bytes::from(out))));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}
