//! HTTP: routing, request validation, OpenAI-style errors, JSON and SSE response bodies, and the
//! Prometheus `/metrics` text.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::faults::{Fate, Faults};
use super::model::{Engine, Token, estimate_tokens, output_word};
use super::probe;

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
    epoch: Instant,
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

/// A response body: a complete buffer, or a server-sent-event stream fed by the engine.
pub enum MockBody {
    Full(Option<Bytes>),
    Sse(Box<SseStream>),
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            MockBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Sse(s) => s.poll_next(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, MockBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            MockBody::Sse(_) => SizeHint::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Text,
}

/// A validated inference request.
struct Job {
    kind: Kind,
    model: String,
    prompt_tokens: u32,
    max_tokens: u32,
    /// Whether `max_tokens` came from the request (finish reason `length`) or the default (`stop`).
    limited: bool,
    stream: bool,
    include_usage: bool,
    /// Put the server's timing of each token in its chunk ([`TIMING_HEADER`]).
    timing: bool,
}

/// The SSE stream of one request.
pub struct SseStream {
    tokens: Option<UnboundedReceiver<Token>>,
    /// Sequence number of the request (the `n` of its id).
    n: u64,
    shared: Arc<Shared>,
    job: Job,
    /// The fields every chunk starts with (without braces), formatted once per stream.
    head: String,
    sent: u32,
    stall_after: Option<u32>,
    done: bool,
}

impl SseStream {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.done {
            return Poll::Ready(None);
        }
        let Some(rx) = self.tokens.as_mut() else {
            // Stalled: hold the connection open and never send again.
            return Poll::Pending;
        };
        let mut out = String::with_capacity(256);
        match rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                // The engine dropped the sequence without finishing it; end the stream.
                self.done = true;
                self.shared.faults.answered();
                return Poll::Ready(None);
            }
            Poll::Ready(Some(i)) => self.push_token(&mut out, i),
        }
        // Coalesce tokens that are already due into the same write.
        while !self.done && Some(self.sent) != self.stall_after {
            let Some(rx) = self.tokens.as_mut() else { break };
            match rx.try_recv() {
                Ok(i) => self.push_token(&mut out, i),
                Err(_) => break,
            }
        }
        if !self.done && Some(self.sent) == self.stall_after {
            self.tokens = None;
        }
        Poll::Ready(Some(Bytes::from(out)))
    }

    fn push_token(&mut self, out: &mut String, token: Token) {
        probe::record(self.n, token);
        let word = output_word(token.index);
        let timing = if self.job.timing { self.timing_field(&token) } else { String::new() };
        let first = self.sent == 0;
        self.sent += 1;
        match self.job.kind {
            Kind::Chat => {
                let role = if first { r#""role":"assistant","# } else { "" };
                let _ = write!(
                    out,
                    "data: {{{},\"choices\":[{{\"index\":0,\"delta\":{{{role}\"content\":\"{word}\"}},\"finish_reason\":null}}]{}}}\n\n",
                    self.head, timing
                );
            }
            Kind::Text => {
                let _ = write!(
                    out,
                    "data: {{{},\"choices\":[{{\"index\":0,\"text\":\"{word}\",\"logprobs\":null,\"finish_reason\":null}}]{}}}\n\n",
                    self.head, timing
                );
            }
        }
        if self.sent >= self.job.max_tokens {
            self.finish(out);
        }
    }

    /// `,"mock_timing":{...}` for a chunk ([`TIMING_HEADER`]).
    fn timing_field(&self, t: &Token) -> String {
        let us = |i: Instant| i.saturating_duration_since(self.shared.epoch).as_micros();
        format!(
            ",\"mock_timing\":{{\"arrived_us\":{},\"admitted_us\":{},\"due_us\":{},\"released_us\":{},\"written_us\":{},\"step_running\":{}}}",
            us(t.arrived),
            us(t.admitted),
            us(t.due),
            us(t.released),
            us(Instant::now()),
            t.step_running
        )
    }

    fn finish(&mut self, out: &mut String) {
        let reason = finish_reason(&self.job);
        let choice = match self.job.kind {
            Kind::Chat => json!({"index": 0, "delta": {}, "finish_reason": reason}),
            Kind::Text => {
                json!({"index": 0, "text": "", "logprobs": null, "finish_reason": reason})
            }
        };
        let _ = write!(out, "data: {{{},\"choices\":[{choice}]}}\n\n", self.head);
        if self.job.include_usage {
            let usage = usage(&self.job, self.sent);
            let _ = write!(out, "data: {{{},\"choices\":[],\"usage\":{usage}}}\n\n", self.head);
        }
        out.push_str("data: [DONE]\n\n");
        self.done = true;
        self.tokens = None;
        self.shared.faults.answered();
    }
}

/// The fields every SSE chunk of one stream starts with (without braces).
fn chunk_head(kind: Kind, id: &str, created: u64, model: &str) -> String {
    let object = match kind {
        Kind::Chat => "chat.completion.chunk",
        Kind::Text => "text_completion",
    };
    format!(
        "\"id\":\"{id}\",\"object\":\"{object}\",\"created\":{created},\"model\":{}",
        Value::String(model.to_owned())
    )
}

fn finish_reason(job: &Job) -> &'static str {
    if job.limited { "length" } else { "stop" }
}

fn usage(job: &Job, completion_tokens: u32) -> Value {
    json!({
        "prompt_tokens": job.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": u64::from(job.prompt_tokens) + u64::from(completion_tokens),
    })
}

/// An OpenAI-style error.
struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self { status, message: message.into(), kind, param: None, code }
    }

    fn invalid(param: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: Some(param.to_owned()),
            code: Some(code),
        }
    }

    fn missing(param: &str) -> Self {
        Self::invalid(
            param,
            "missing_required_parameter",
            format!("missing required parameter: '{param}'"),
        )
    }

    fn mistyped(param: &str, expected: &str) -> Self {
        Self::invalid(
            param,
            "invalid_type",
            format!("invalid type for '{param}': expected {expected}"),
        )
    }

    fn into_response(self) -> Response<MockBody> {
        let body = json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }});
        json_response(self.status, &body)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<MockBody> {
    let mut r = Response::new(MockBody::Full(Some(Bytes::from(body.to_string()))));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
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
        let stream = SseStream {
            // Stalling after 0 tokens: headers only.
            tokens: if stall_after == Some(0) { None } else { Some(tokens) },
            n,
            shared: Arc::clone(shared),
            head: chunk_head(kind, &id, created, &job.model),
            job,
            sent: 0,
            stall_after,
            done: false,
        };
        let mut r = Response::new(MockBody::Sse(Box::new(stream)));
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(r);
    }
    let text = collect_text(tokens, job.max_tokens, stall_after).await;
    let completion_tokens = u32::try_from(text.1).unwrap_or(u32::MAX);
    let reason = finish_reason(&job);
    let choice = match kind {
        Kind::Chat => {
            json!({"index": 0, "message": {"role": "assistant", "content": text.0}, "logprobs": null, "finish_reason": reason})
        }
        Kind::Text => {
            json!({"index": 0, "text": text.0, "logprobs": null, "finish_reason": reason})
        }
    };
    let object = match kind {
        Kind::Chat => "chat.completion",
        Kind::Text => "text_completion",
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "object": object, "created": created, "model": job.model,
                "choices": [choice], "usage": usage(&job, completion_tokens)}),
    ))
}

/// Waits for all tokens of a non-streaming request (or stalls forever after `stall_after`).
async fn collect_text(
    mut tokens: UnboundedReceiver<Token>,
    max: u32,
    stall_after: Option<u32>,
) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0usize;
    while n < max as usize {
        if stall_after == Some(u32::try_from(n).unwrap_or(u32::MAX)) {
            drop(tokens);
            std::future::pending::<()>().await;
            return (text, n);
        }
        match tokens.recv().await {
            Some(t) => {
                text.push_str(output_word(t.index));
                n += 1;
            }
            None => break,
        }
    }
    (text, n)
}

async fn read_body(req: Request<Incoming>, cap: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("request body is larger than {cap} bytes (--max-body-bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let limit = usize::try_from(cap).unwrap_or(usize::MAX);
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("body_read_failed"),
            format!("failed to read the request body: {e}"),
        )),
    }
}

fn parse_job(
    kind: Kind,
    body: &[u8],
    default_model: &str,
    default_max_tokens: u32,
) -> Result<Job, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("request body is not valid JSON: {e}"),
        kind: "invalid_request_error",
        param: None,
        code: Some("invalid_json"),
    })?;
    let Value::Object(o) = &v else {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "request body must be a JSON object".into(),
            kind: "invalid_request_error",
            param: None,
            code: Some("invalid_json"),
        });
    };
    let field = |name: &str| o.get(name).filter(|v| !v.is_null());
    let model = match field("model") {
        None => default_model.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::mistyped("model", "a string")),
    };
    let stream = match field("stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::mistyped("stream", "a boolean")),
    };
    let include_usage = match field("stream_options") {
        None => false,
        Some(Value::Object(so)) => match so.get("include_usage").filter(|v| !v.is_null()) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::mistyped("stream_options.include_usage", "a boolean")),
        },
        Some(_) => return Err(ApiError::mistyped("stream_options", "an object")),
    };
    match field("n") {
        None => {}
        Some(n) if n.as_u64() == Some(1) => {}
        Some(_) => {
            return Err(ApiError::invalid("n", "unsupported_value", "only n=1 is supported"));
        }
    }
    let mut max_tokens = None;
    let names: &[&str] = match kind {
        Kind::Chat => &["max_tokens", "max_completion_tokens"],
        Kind::Text => &["max_tokens"],
    };
    // For chat, `max_completion_tokens` (the newer name) wins over `max_tokens`.
    for name in names {
        if let Some(x) = field(name) {
            let n = x.as_u64().ok_or_else(|| ApiError::mistyped(name, "a positive integer"))?;
            if n == 0 {
                return Err(ApiError::invalid(
                    name,
                    "invalid_value",
                    format!("'{name}' must be at least 1"),
                ));
            }
            max_tokens = Some(u32::try_from(n).map_err(|_| {
                ApiError::invalid(
                    name,
                    "invalid_value",
                    format!("'{name}' must be at most {}", u32::MAX),
                )
            })?);
        }
    }
    let prompt_tokens = match kind {
        Kind::Chat => chat_prompt_tokens(field("messages"))?,
        Kind::Text => text_prompt_tokens(field("prompt"))?,
    };
    Ok(Job {
        kind,
        model,
        prompt_tokens,
        max_tokens: max_tokens.unwrap_or(default_max_tokens),
        limited: max_tokens.is_some(),
        stream,
        include_usage: stream && include_usage,
        timing: false,
    })
}

fn chat_prompt_tokens(messages: Option<&Value>) -> Result<u32, ApiError> {
    let Some(messages) = messages else { return Err(ApiError::missing("messages")) };
    let Value::Array(list) = messages else {
        return Err(ApiError::mistyped("messages", "an array"));
    };
    if list.is_empty() {
        return Err(ApiError::invalid("messages", "invalid_value", "'messages' must not be empty"));
    }
    let mut total = 0u32;
    for (i, m) in list.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(ApiError::mistyped(&format!("messages[{i}]"), "an object"));
        };
        match m.get("role") {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) => {
                return Err(ApiError::missing(&format!("messages[{i}].role")));
            }
            Some(_) => return Err(ApiError::mistyped(&format!("messages[{i}].role"), "a string")),
        }
        let content = match m.get("content") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) => estimate_tokens(s),
            Some(Value::Array(parts)) => {
                let mut n = 0u32;
                for (j, p) in parts.iter().enumerate() {
                    match p.get("text") {
                        Some(Value::String(s)) => n = n.saturating_add(estimate_tokens(s)),
                        _ if p.is_object() => {}
                        _ => {
                            return Err(ApiError::mistyped(
                                &format!("messages[{i}].content[{j}]"),
                                "an object",
                            ));
                        }
                    }
                }
                n
            }
            Some(_) => {
                return Err(ApiError::mistyped(
                    &format!("messages[{i}].content"),
                    "a string or an array of content parts",
                ));
            }
        };
        total = total.saturating_add(content);
    }
    Ok(total)
}

fn text_prompt_tokens(prompt: Option<&Value>) -> Result<u32, ApiError> {
    let expected = "a string, an array of strings, or an array of token ids";
    match prompt {
        None => Err(ApiError::missing("prompt")),
        Some(Value::String(s)) => Ok(estimate_tokens(s)),
        Some(Value::Array(items)) => {
            let mut n = 0u32;
            for item in items {
                n = n.saturating_add(match item {
                    Value::String(s) => estimate_tokens(s),
                    Value::Number(_) => 1,
                    Value::Array(ids) if ids.iter().all(Value::is_number) => {
                        u32::try_from(ids.len()).unwrap_or(u32::MAX)
                    }
                    _ => return Err(ApiError::mistyped("prompt", expected)),
                });
            }
            Ok(n)
        }
        Some(_) => Err(ApiError::mistyped("prompt", expected)),
    }
}

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
