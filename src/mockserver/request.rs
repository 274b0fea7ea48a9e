//! Inference requests: the body read within its size limit, then validated into a [`Job`]
//! (model, prompt size, output length, streaming), or an OpenAI-style error naming the parameter.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value};

use super::model::estimate_tokens;
use super::response::ApiError;

/// Which endpoint a request came to: chat completions or (text) completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Chat,
    Text,
}

/// A validated inference request.
pub(super) struct Job {
    pub(super) kind: Kind,
    pub(super) model: String,
    pub(super) prompt_tokens: u32,
    pub(super) max_tokens: u32,
    /// Whether `max_tokens` came from the request (finish reason `length`) or the default (`stop`).
    pub(super) limited: bool,
    pub(super) stream: bool,
    pub(super) include_usage: bool,
    /// Put the server's timing of each token in its chunk ([`TIMING_HEADER`]).
    pub(super) timing: bool,
}

/// The request body, at most `cap` bytes (larger: HTTP 413).
pub(super) async fn read_body(req: Request<Incoming>, cap: u64) -> Result<Bytes, ApiError> {
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

/// Validates an inference request's body into a [`Job`].
pub(super) fn parse_job(
    kind: Kind,
    body: &[u8],
    default_model: &str,
    default_max_tokens: u32,
) -> Result<Job, ApiError> {
    let invalid_json = |message: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("invalid_json"),
            message,
        )
    };
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid_json(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(o) = &v else {
        return Err(invalid_json("request body must be a JSON object".into()));
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
    let include_usage = include_usage(field("stream_options"))?;
    match field("n") {
        None => {}
        Some(n) if n.as_u64() == Some(1) => {}
        Some(_) => {
            return Err(ApiError::invalid("n", "unsupported_value", "only n=1 is supported"));
        }
    }
    let max_tokens = max_tokens(kind, o)?;
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

/// `stream_options.include_usage`: whether a stream ends with a usage chunk.
fn include_usage(stream_options: Option<&Value>) -> Result<bool, ApiError> {
    match stream_options {
        None => Ok(false),
        Some(Value::Object(so)) => match so.get("include_usage").filter(|v| !v.is_null()) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::mistyped("stream_options.include_usage", "a boolean")),
        },
        Some(_) => Err(ApiError::mistyped("stream_options", "an object")),
    }
}

/// The output length the request asks for, from 1 to `u32::MAX`. For chat,
/// `max_completion_tokens` (the newer name) wins over `max_tokens`.
fn max_tokens(kind: Kind, o: &Map<String, Value>) -> Result<Option<u32>, ApiError> {
    let names: &[&str] = match kind {
        Kind::Chat => &["max_tokens", "max_completion_tokens"],
        Kind::Text => &["max_tokens"],
    };
    let mut max_tokens = None;
    for name in names {
        let Some(x) = o.get(*name).filter(|v| !v.is_null()) else { continue };
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
    Ok(max_tokens)
}

/// The estimated prompt tokens of a chat request's `messages`.
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

/// The estimated prompt tokens of a completion request's `prompt`.
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
