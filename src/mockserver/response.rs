//! Responses to inference requests: complete JSON bodies, SSE streams fed by the engine, and
//! OpenAI-style errors.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::http::Shared;
use super::model::{Token, output_word};
use super::probe;
use super::request::{Job, Kind};

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
    /// The stream of request number `n`, sending `tokens` as they come (`None`: stalled before
    /// the first one), stalling after `stall_after` tokens.
    pub(super) fn new(
        tokens: Option<UnboundedReceiver<Token>>,
        n: u64,
        shared: Arc<Shared>,
        job: Job,
        head: String,
        stall_after: Option<u32>,
    ) -> Self {
        Self { tokens, n, shared, job, head, sent: 0, stall_after, done: false }
    }

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
pub(super) fn chunk_head(kind: Kind, id: &str, created: u64, model: &str) -> String {
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
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self { status, message: message.into(), kind, param: None, code }
    }

    pub(super) fn invalid(param: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: Some(param.to_owned()),
            code: Some(code),
        }
    }

    pub(super) fn missing(param: &str) -> Self {
        Self::invalid(
            param,
            "missing_required_parameter",
            format!("missing required parameter: '{param}'"),
        )
    }

    pub(super) fn mistyped(param: &str, expected: &str) -> Self {
        Self::invalid(
            param,
            "invalid_type",
            format!("invalid type for '{param}': expected {expected}"),
        )
    }

    pub(super) fn into_response(self) -> Response<MockBody> {
        let body = json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }});
        json_response(self.status, &body)
    }
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response<MockBody> {
    let mut r = Response::new(MockBody::Full(Some(Bytes::from(body.to_string()))));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The response of a streaming request: its SSE stream.
pub(super) fn sse_response(stream: SseStream) -> Response<MockBody> {
    let mut r = Response::new(MockBody::Sse(Box::new(stream)));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The response of a non-streaming request: waits for all its tokens (or stalls forever after
/// `stall_after`), then answers one JSON body.
pub(super) async fn complete_response(
    tokens: UnboundedReceiver<Token>,
    job: &Job,
    id: &str,
    created: u64,
    stall_after: Option<u32>,
) -> Response<MockBody> {
    let text = collect_text(tokens, job.max_tokens, stall_after).await;
    let completion_tokens = u32::try_from(text.1).unwrap_or(u32::MAX);
    let reason = finish_reason(job);
    let choice = match job.kind {
        Kind::Chat => {
            json!({"index": 0, "message": {"role": "assistant", "content": text.0}, "logprobs": null, "finish_reason": reason})
        }
        Kind::Text => {
            json!({"index": 0, "text": text.0, "logprobs": null, "finish_reason": reason})
        }
    };
    let object = match job.kind {
        Kind::Chat => "chat.completion",
        Kind::Text => "text_completion",
    };
    json_response(
        StatusCode::OK,
        &json!({"id": id, "object": object, "created": created, "model": job.model,
                "choices": [choice], "usage": usage(job, completion_tokens)}),
    )
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
