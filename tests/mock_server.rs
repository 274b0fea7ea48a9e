//! Tests of `sweeper mock-server` over HTTP on 127.0.0.1: wire formats, token counts, metrics,
//! the serving model's timing, every fault, every bad request, and runs of the real aiperf.
//!
//! The aiperf tests use the real aiperf 0.13.0 from sweeper's managed venv (built from PyPI on
//! first use) with the offline tokenizer built in it.

mod common;

use std::time::{Duration, Instant};

use common::mock::{MockProcess, MockServer};
use serde_json::{Value, json};
use sweeper::mockserver::model::{OUTPUT_WORDS, estimate_tokens};
use sweeper::mockserver::{MockParams, ServeOutcome};

// ---------------------------------------------------------------------------------------------
// Helpers of the HTTP tests (the server itself is `common::mock`).

/// Tests that assert times run one at a time: aiperf is CPU-heavy on small machines and would
/// skew the others' timings.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("http client")
}

/// Model parameters with round numbers, for timing assertions.
fn timed(max_num_seqs: u32, prefill: f64, decode: f64, per_seq: f64) -> MockParams {
    MockParams {
        max_num_seqs,
        prefill_base_ms: prefill,
        prefill_per_token_ms: 0.0,
        decode_base_ms: decode,
        decode_per_seq_ms: per_seq,
        ..MockParams::default()
    }
}

fn chat_body(max: u32, stream: bool) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hello world, how are you"}],
           "stream": stream, "max_completion_tokens": max, "stream_options": {"include_usage": true}})
}

/// One SSE event's data and when its bytes arrived.
struct Event {
    at: Instant,
    data: String,
}

/// Reads a streamed response's SSE events to the end: the events, and what followed the last.
async fn read_events(mut resp: reqwest::Response) -> (Vec<Event>, String) {
    let mut buf = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = resp.chunk().await.expect("stream chunk") {
        let at = Instant::now();
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8 stream"));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let data = event.strip_prefix("data: ").expect("every event is a `data: ` line");
            events.push(Event { at, data: data.trim_end().to_owned() });
        }
    }
    (events, buf)
}

/// Sends a streaming request and collects its events; `sent` is when the request was sent.
async fn stream(c: &reqwest::Client, url: &str, body: &Value) -> (Instant, Vec<Event>) {
    let sent = Instant::now();
    let resp = c.post(url).json(body).send().await.expect("request sent");
    assert_eq!(resp.status(), 200, "streaming request failed");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(ct.as_deref(), Some("text/event-stream"));
    let (events, buf) = read_events(resp).await;
    assert!(buf.is_empty(), "stream ended mid-event: {buf:?}");
    (sent, events)
}

fn content_events(events: &[Event]) -> Vec<(Instant, String)> {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.data).expect("chunk is JSON");
            let c = &v["choices"][0];
            let text = c["delta"]["content"].as_str().or(c["text"].as_str())?;
            (!text.is_empty()).then(|| (e.at, text.to_owned()))
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Asserts the OpenAI error shape and returns the error object.
async fn assert_error(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status, "status");
    let v: Value = resp.json().await.expect("error body is JSON");
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "error.message in {v}");
    assert!(e["type"].is_string(), "error.type in {v}");
    assert!(e.get("param").is_some_and(|p| p.is_string() || p.is_null()), "error.param in {v}");
    assert!(e.get("code").is_some_and(|p| p.is_string() || p.is_null()), "error.code in {v}");
    e.clone()
}

/// The integer value of metric `name` (its first sample, whatever its labels) in a `/metrics`
/// text; gauges are written as floats (`4.0`).
fn gauge(text: &str, name: &str) -> u64 {
    let v: f64 = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => &labelled[labelled.find('}')? + 1..],
                None => rest,
            };
            rest.strip_prefix(' ')
        })
        .unwrap_or_else(|| panic!("metric {name} missing from:\n{text}"))
        .parse()
        .expect("metric value is a number");
    assert!(v >= 0.0 && v.fract() == 0.0, "{name} = {v} is not a count");
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked above")]
    let n = v as u64;
    n
}

async fn metric(c: &reqwest::Client, s: &MockServer, name: &str) -> u64 {
    let text = c.get(s.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    gauge(&text, name)
}

/// Reads `/metrics` (both gauges from one response) until `ok(running, waiting)`, for at most 30 s.
async fn poll_metrics(c: &reqwest::Client, s: &MockServer, ok: impl Fn(u64, u64) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let text =
            c.get(s.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        if ok(gauge(&text, "vllm:num_requests_running"), gauge(&text, "vllm:num_requests_waiting"))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// A streaming request with the server's own per-token timing (`x-mock-timing`).
async fn stream_timed(c: reqwest::Client, url: String, body: Value) -> (Instant, Vec<Event>) {
    let sent = Instant::now();
    let resp = c
        .post(&url)
        .header(sweeper::mockserver::TIMING_HEADER, "1")
        .json(&body)
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), 200, "streaming request failed");
    (sent, read_events(resp).await.0)
}

/// The server's timing of one token, microseconds since the server started.
#[derive(Debug, Clone, Copy)]
struct Timed {
    arrived: u64,
    admitted: u64,
    due: u64,
    released: u64,
    written: u64,
    step_running: u64,
}

/// The `mock_timing` of every token chunk, in order.
fn timings(events: &[Event]) -> Vec<Timed> {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.data).expect("chunk is JSON");
            let t = v.get("mock_timing")?;
            let f = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("mock_timing.{k} in {t}"));
            Some(Timed {
                arrived: f("arrived_us"),
                admitted: f("admitted_us"),
                due: f("due_us"),
                released: f("released_us"),
                written: f("written_us"),
                step_running: f("step_running"),
            })
        })
        .collect()
}

/// Equal to the microsecond: both sides are model times, exported truncated to microseconds.
fn assert_us(what: &str, measured: u64, expected: u64) {
    assert!(
        measured.abs_diff(expected) <= 2,
        "{what}: server says {measured} us, the model says {expected} us"
    );
}

/// No token is released by the engine, or written, before its model deadline.
fn assert_never_early(t: &[Timed]) {
    for (i, x) in t.iter().enumerate() {
        assert!(x.released >= x.due, "token {i} released before its deadline: {x:?}");
        assert!(x.written >= x.released, "token {i} written before it was released: {x:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Wire formats and token counts.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_sends_one_word_per_chunk_then_finish_usage_and_done() {
    let s = MockServer::start(MockParams { decode_base_ms: 1.0, ..MockParams::default() }).await;
    let c = client();
    let (_, events) = stream(&c, &s.url("/v1/chat/completions"), &chat_body(5, true)).await;
    assert_eq!(events.len(), 5 + 3, "5 tokens, finish, usage, [DONE]");
    for (i, e) in events[..5].iter().enumerate() {
        let v: Value = serde_json::from_str(&e.data).expect("JSON chunk");
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "m", "echoes the requested model");
        assert_eq!(v["choices"][0]["delta"]["content"], OUTPUT_WORDS[i]);
        assert_eq!(v["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(v["choices"][0]["delta"].get("role").is_some(), i == 0, "role only first");
    }
    let finish: Value = serde_json::from_str(&events[5].data).expect("JSON");
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage: Value = serde_json::from_str(&events[6].data).expect("JSON");
    assert_eq!(usage["choices"], json!([]));
    let prompt = estimate_tokens("hello world, how are you");
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5})
    );
    assert_eq!(events[7].data, "[DONE]");

    // Without include_usage there is no usage chunk.
    let mut body = chat_body(3, true);
    body["stream_options"] = json!({"include_usage": false});
    let (_, events) = stream(&c, &s.url("/v1/chat/completions"), &body).await;
    assert_eq!(events.len(), 3 + 2);
    assert!(events.iter().all(|e| !e.data.contains("\"usage\"")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_stream_and_non_streaming_report_exact_usage() {
    let s = MockServer::start(MockParams {
        decode_base_ms: 1.0,
        default_max_tokens: 7,
        ..MockParams::default()
    })
    .await;
    let c = client();
    let body = json!({"prompt": "abcdefgh", "stream": true, "max_tokens": 4, "stream_options": {"include_usage": true}});
    let (_, events) = stream(&c, &s.url("/v1/completions"), &body).await;
    let texts: Vec<String> = content_events(&events).into_iter().map(|e| e.1).collect();
    assert_eq!(texts, OUTPUT_WORDS[..4].to_vec());
    let first: Value = serde_json::from_str(&events[0].data).expect("JSON");
    assert_eq!(first["object"], "text_completion");
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));

    // Non-streaming completions.
    let v: Value = c
        .post(s.url("/v1/completions"))
        .json(&json!({"prompt": "abcdefgh", "max_tokens": 20}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["object"], "text_completion");
    let text = v["choices"][0]["text"].as_str().expect("text");
    assert_eq!(text.split_whitespace().count(), 20);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 20, "total_tokens": 22})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");

    // Non-streaming chat: max_completion_tokens wins over max_tokens; default when neither is set.
    let v: Value = c.post(s.url("/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "max_completion_tokens": 3}))
        .send().await.expect("sent").json().await.expect("JSON");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], " the and of");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    let v: Value = c
        .post(s.url("/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["usage"]["completion_tokens"], 7, "default_max_tokens");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_and_metrics() {
    let s = MockServer::start(MockParams {
        model: "org/some-model".into(),
        decode_base_ms: 1.0,
        ..MockParams::default()
    })
    .await;
    let c = client();
    let v: Value =
        c.get(s.url("/v1/models")).send().await.expect("sent").json().await.expect("JSON");
    assert_eq!(v["data"][0]["id"], "org/some-model");
    assert_eq!(c.get(s.url("/health")).send().await.expect("sent").status(), 200);
    for max in [2, 3] {
        let r = c
            .post(s.url("/v1/completions"))
            .json(&json!({"prompt": "x", "max_tokens": max}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200);
    }
    let r = c.post(s.url("/v1/completions")).json(&json!({})).send().await.expect("sent");
    assert_eq!(r.status(), 400);
    let text = c.get(s.url("/metrics")).send().await.expect("sent").text().await.expect("text");
    for name in [
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:generation_tokens_total",
        "mock_requests_total",
        "mock_request_errors_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} in\n{text}");
    }
    for gone in ["mock_num_requests_running", "mock_num_requests_waiting", "mock_generation"] {
        assert!(!text.contains(gone), "{gone} is still exported:\n{text}");
    }
    assert!(
        text.contains(
            "\nvllm:num_requests_running{model_name=\"org/some-model\",engine=\"0\"} 0.0\n"
        ),
        "vLLM's labels, the gauge a float:\n{text}"
    );
    assert_eq!(metric(&c, &s, "vllm:generation_tokens_total").await, 5);
    assert_eq!(metric(&c, &s, "mock_requests_total").await, 3);
    assert_eq!(metric(&c, &s, "mock_request_errors_total").await, 1);
    assert_eq!(metric(&c, &s, "vllm:num_requests_running").await, 0);
    assert_eq!(s.stop().await, ServeOutcome::Shutdown);
}

// ---------------------------------------------------------------------------------------------
// The serving model.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_slot_the_second_request_waits_for_the_first() {
    // One slot; prefill 20 ms, every decode step 10 ms. The first request is long (200 tokens,
    // about 2 s), so the second certainly arrives while it runs, however slow the client is.
    let s = MockServer::start(timed(1, 20.0, 10.0, 0.0)).await;
    let c = client();
    let url = s.url("/v1/chat/completions");
    let first = tokio::spawn(stream_timed(c.clone(), url.clone(), chat_body(200, true)));
    assert!(
        poll_metrics(&c, &s, |running, _| running == 1).await,
        "the first request was never admitted"
    );
    let second = tokio::spawn(stream_timed(c.clone(), url.clone(), chat_body(10, true)));
    // While the first decodes, the second waits: one running, one waiting (one /metrics read).
    assert!(
        poll_metrics(&c, &s, |running, waiting| running == 1 && waiting == 1).await,
        "never saw one running and one waiting"
    );
    let (a_sent, a) = first.await.expect("first stream");
    let (b_sent, b) = second.await.expect("second stream");
    let (ta, tb) = (timings(&a), timings(&b));
    assert_eq!((ta.len(), tb.len()), (200, 10), "token counts");
    // What the server did, in model time (exact to the microsecond rounding of the export).
    assert_us("first admitted on arrival", ta[0].admitted, ta[0].arrived);
    assert_us("first TTFT = prefill", ta[0].due - ta[0].admitted, 20_000);
    for w in ta.windows(2) {
        assert_eq!(w[1].step_running, 1, "one sequence running");
        assert_us("first's decode step", w[1].due - w[0].due, 10_000);
    }
    let a_last = ta[ta.len() - 1];
    assert!(tb[0].arrived < a_last.due, "the second arrived while the first ran");
    assert_us("second admitted when the first's slot freed", tb[0].admitted, a_last.due);
    assert_us("second TTFT after admission = prefill", tb[0].due - tb[0].admitted, 20_000);
    for w in tb.windows(2) {
        assert_us("second's decode step", w[1].due - w[0].due, 10_000);
    }
    // The server never releases or writes a token before its model time.
    assert_never_early(&ta);
    assert_never_early(&tb);
    // Client side, only what a slow client cannot break: nothing arrives earlier than the model
    // allows (the second waited for the first's 200 tokens, then its own prefill).
    let b_first = content_events(&b)[0].0;
    assert!(ms(b_first - b_sent) >= 20.0, "second TTFT {:.2} ms < 20 ms", ms(b_first - b_sent));
    let a_first = content_events(&a)[0].0;
    assert!(ms(a_first - a_sent) >= 20.0, "first TTFT {:.2} ms < 20 ms", ms(a_first - a_sent));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_step_grows_with_running_sequences() {
    // step = 5 + 5 * R: 10 ms alone, 25 ms with 4 running.
    let s = MockServer::start(timed(8, 5.0, 5.0, 5.0)).await;
    let c = client();
    let url = s.url("/v1/chat/completions");
    let (_, alone) = stream_timed(c.clone(), url.clone(), chat_body(11, true)).await;
    let t = timings(&alone);
    assert_eq!(t.len(), 11);
    for w in t.windows(2) {
        assert_eq!(w[1].step_running, 1, "ITL alone: one sequence running");
        assert_us("ITL alone", w[1].due - w[0].due, 10_000);
    }
    assert_never_early(&t);
    // Four at once, long enough (40 tokens, about a second) that they overlap for sure.
    let body = chat_body(40, true);
    let streams: Vec<_> =
        (0..4).map(|_| tokio::spawn(stream_timed(c.clone(), url.clone(), body.clone()))).collect();
    let mut max_running = 0;
    for h in streams {
        let (_, ev) = h.await.expect("stream");
        let t = timings(&ev);
        assert_eq!(t.len(), 40);
        for w in t.windows(2) {
            // Every step follows the model for the running count it was computed with.
            let r = w[1].step_running;
            assert!((1..=4).contains(&r), "running count {r}");
            assert_us(&format!("ITL with {r} running"), w[1].due - w[0].due, 5_000 + 5_000 * r);
            max_running = max_running.max(r);
        }
        assert_never_early(&t);
    }
    assert_eq!(max_running, 4, "the four sequences ran at the same time");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_delay_answers_503_until_ready() {
    // A long delay: these requests come long before it ends, however slow the client.
    let s =
        MockServer::start(MockParams { startup_delay_ms: 600_000, ..MockParams::default() }).await;
    let c = client();
    let e = assert_error(c.get(s.url("/health")).send().await.expect("sent"), 503).await;
    assert_eq!(e["code"], "not_ready");
    assert_error(
        c.post(s.url("/v1/chat/completions"))
            .json(&chat_body(2, false))
            .send()
            .await
            .expect("sent"),
        503,
    )
    .await;
    s.stop().await;
    // A short delay: ready once it has passed, and never before (the server started after t0).
    let t0 = Instant::now();
    let s = MockServer::start(MockParams { startup_delay_ms: 300, ..MockParams::default() }).await;
    let mut ready_at = None;
    while t0.elapsed() < Duration::from_secs(60) {
        let status = c.get(s.url("/health")).send().await.expect("sent").status();
        if status == 200 {
            ready_at = Some(t0.elapsed());
            break;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_at = ready_at.expect("ready within 60 s");
    assert!(ready_at >= Duration::from_millis(300), "ready after {ready_at:?}, before the delay");
    assert_eq!(
        c.post(s.url("/v1/chat/completions"))
            .json(&chat_body(2, false))
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
    s.stop().await;
}

async fn statuses(params: MockParams, n: usize) -> Vec<u16> {
    let s = MockServer::start(params).await;
    let c = client();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = c
            .post(s.url("/v1/completions"))
            .json(&json!({"prompt": "x", "max_tokens": 1}))
            .send()
            .await
            .expect("sent");
        let status = r.status().as_u16();
        if status == 500 {
            let e = assert_error(r, 500).await;
            assert_eq!(e["type"], "server_error");
        }
        out.push(status);
    }
    assert_eq!(
        metric(&c, &s, "mock_request_errors_total").await,
        out.iter().filter(|s| **s == 500).count() as u64
    );
    s.stop().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_is_a_seeded_fraction_of_http_500() {
    let p = |seed| MockParams {
        error_rate: 0.5,
        seed,
        decode_base_ms: 0.0,
        prefill_base_ms: 0.0,
        ..MockParams::default()
    };
    let a = statuses(p(11), 40).await;
    let b = statuses(p(11), 40).await;
    let other = statuses(p(12), 40).await;
    assert_eq!(a, b, "same seed, same pattern");
    assert_ne!(a, other, "another seed, another pattern");
    let failed = a.iter().filter(|s| **s == 500).count();
    assert!((10..=30).contains(&failed), "{failed} of 40 failed at error_rate 0.5: {a:?}");
    assert!(a.iter().all(|s| *s == 200 || *s == 500));
    let none = statuses(MockParams { error_rate: 0.0, ..p(11) }, 10).await;
    assert!(none.iter().all(|s| *s == 200));
    let all = statuses(MockParams { error_rate: 1.0, ..p(11) }, 10).await;
    assert!(all.iter().all(|s| *s == 500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_stream_stops_after_k_tokens_and_keeps_the_connection_open() {
    let s = MockServer::start(MockParams {
        stall_rate: 1.0,
        stall_after_tokens: 2,
        decode_base_ms: 5.0,
        ..MockParams::default()
    })
    .await;
    let c = client();
    let mut resp = c
        .post(s.url("/v1/chat/completions"))
        .json(&chat_body(10, true))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    // The two tokens come (however late), then nothing: a slow machine can delay data, it
    // cannot make a stalled server send more.
    let mut body = String::new();
    let read = async {
        while body.matches("\"content\"").count() < 2 {
            match resp.chunk().await {
                Ok(Some(b)) => body.push_str(&String::from_utf8_lossy(&b)),
                other => panic!("stream ended before 2 tokens: {other:?}; got {body:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.expect("2 tokens within 60 s");
    match tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await {
        Err(_) => {} // nothing more, connection still open
        Ok(other) => panic!("data or end after the stall: {other:?}; got {body:?}"),
    }
    assert_eq!(body.matches("\"content\"").count(), 2, "exactly 2 tokens before the stall: {body}");
    assert!(!body.contains("[DONE]"));
    // A non-streaming request that stalls never answers.
    let r = tokio::time::timeout(
        Duration::from_millis(400),
        c.post(s.url("/v1/completions")).json(&json!({"prompt": "x", "max_tokens": 5})).send(),
    )
    .await;
    assert!(r.is_err(), "non-streaming stalled request answered: {r:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_after_requests_stops_serving() {
    let s = MockServer::start(MockParams {
        exit_after_requests: 3,
        decode_base_ms: 1.0,
        ..MockParams::default()
    })
    .await;
    let c =
        reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().expect("client");
    for _ in 0..2 {
        let r = c
            .post(s.url("/v1/completions"))
            .json(&json!({"prompt": "x", "max_tokens": 2}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200);
    }
    // The third answer (here a streamed one) arrives complete, then the server dies.
    let (_, events) = stream(&c, &s.url("/v1/chat/completions"), &chat_body(3, true)).await;
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let addr = s.addr;
    let outcome = s.ended().await;
    assert_eq!(outcome, ServeOutcome::Died);
    let r = c.get(format!("http://{addr}/health")).send().await;
    assert!(r.is_err(), "a dead server answered: {r:?}");
}

/// The `sweeper mock-server` process: the listening line, the API key from the environment,
/// SIGTERM, and start-up errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_reads_api_key_from_env_and_exits_cleanly_on_sigterm() {
    let mut child = MockProcess::start(
        &["--port", "0", "--api-key-env", "SWEEPER_TEST_MOCK_KEY", "--decode-base-ms", "1"],
        &[("SWEEPER_TEST_MOCK_KEY", "s3cret")],
    );
    let base = child.url.clone();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let c = client();
    let url = format!("{base}/v1/chat/completions");
    let e = assert_error(c.post(&url).json(&chat_body(2, false)).send().await.expect("sent"), 401)
        .await;
    assert_eq!(e["code"], "invalid_api_key");
    assert_error(
        c.post(&url).bearer_auth("wrong").json(&chat_body(2, false)).send().await.expect("sent"),
        401,
    )
    .await;
    assert_eq!(
        c.post(&url)
            .bearer_auth("s3cret")
            .json(&chat_body(2, false))
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{base}/health")).send().await.expect("sent").status(),
        200,
        "health needs no key"
    );

    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.pid(), libc::SIGTERM) }, 0);
    let status = child.wait(Duration::from_secs(60)).expect("exits within 60 s");
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");

    // Start-up errors exit 2 with a message: unset key variable, port in use.
    let out = common::sweeper()
        .args(["mock-server", "--port", "0", "--api-key-env", "SWEEPER_TEST_MOCK_KEY_UNSET"])
        .env_remove("SWEEPER_TEST_MOCK_KEY_UNSET")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SWEEPER_TEST_MOCK_KEY_UNSET"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = common::sweeper().args(["mock-server", "--port", &port]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed to listen") && err.contains("--port"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Bad requests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_style_errors() {
    let s = MockServer::start(MockParams { max_body_bytes: 1024, ..MockParams::default() }).await;
    let c = client();
    let chat = s.url("/v1/chat/completions");
    let text = s.url("/v1/completions");
    let msg = |content: Value| json!({"messages": [{"role": "user", "content": content}]});
    let cases: Vec<(&str, &String, String, u16, Option<&str>)> = vec![
        ("malformed JSON", &chat, "{\"messages\": [".into(), 400, None),
        ("not an object", &chat, "[1, 2]".into(), 400, None),
        ("missing messages", &chat, json!({"model": "m"}).to_string(), 400, Some("messages")),
        (
            "messages not an array",
            &chat,
            json!({"messages": "hi"}).to_string(),
            400,
            Some("messages"),
        ),
        ("empty messages", &chat, json!({"messages": []}).to_string(), 400, Some("messages")),
        (
            "message without role",
            &chat,
            json!({"messages": [{"content": "hi"}]}).to_string(),
            400,
            Some("messages[0].role"),
        ),
        ("content a number", &chat, msg(json!(5)).to_string(), 400, Some("messages[0].content")),
        (
            "max_tokens a string",
            &chat,
            json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"})
                .to_string(),
            400,
            Some("max_tokens"),
        ),
        (
            "max_completion_tokens zero",
            &chat,
            json!({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0})
                .to_string(),
            400,
            Some("max_completion_tokens"),
        ),
        (
            "max_tokens negative",
            &text,
            json!({"prompt": "x", "max_tokens": -3}).to_string(),
            400,
            Some("max_tokens"),
        ),
        (
            "stream not a bool",
            &chat,
            json!({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}).to_string(),
            400,
            Some("stream"),
        ),
        (
            "n=2",
            &chat,
            json!({"messages": [{"role": "user", "content": "x"}], "n": 2}).to_string(),
            400,
            Some("n"),
        ),
        ("missing prompt", &text, json!({"max_tokens": 3}).to_string(), 400, Some("prompt")),
        ("prompt an object", &text, json!({"prompt": {"a": 1}}).to_string(), 400, Some("prompt")),
        ("body over the cap", &text, json!({"prompt": "x".repeat(4096)}).to_string(), 413, None),
    ];
    for (what, url, body, status, param) in cases {
        let r = c
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        let got = r.status().as_u16();
        assert_eq!(got, status, "{what}");
        let e = assert_error(r, status).await;
        if let Some(p) = param {
            assert_eq!(e["param"], p, "{what}: {e}");
        }
    }
    let e = assert_error(c.get(s.url("/v2/nothing")).send().await.expect("sent"), 404).await;
    assert_eq!(e["code"], "unknown_url");
    let r = c.get(&chat).send().await.expect("sent");
    assert_eq!(r.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert_error(r, 405).await;
    assert_error(c.post(s.url("/health")).send().await.expect("sent"), 405).await;
    assert_error(c.delete(s.url("/v1/models")).send().await.expect("sent"), 405).await;
    // Still serving.
    assert_eq!(c.post(&chat).json(&chat_body(2, false)).send().await.expect("sent").status(), 200);
    assert_eq!(s.stop().await, ServeOutcome::Shutdown);
}

// ---------------------------------------------------------------------------------------------
// Connection timeouts: slow headers and idle keep-alive connections are closed; a long request
// is never cut. Bounds: the server cannot close before its timer (measured from before the bytes
// it times were sent), and on a loaded machine it may close late, so the upper bound is 20 s.

/// Reads `conn` until the server closes it (EOF or reset), for at most 20 s; returns when it
/// closed and what it sent, or `None` when it was still open.
async fn closed(conn: &mut tokio::net::TcpStream) -> Option<(Instant, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let at = tokio::time::timeout(Duration::from_secs(20), read).await.ok()?;
    Some((at, got))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_after_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt;
    let s = MockServer::start(MockParams {
        header_read_timeout_ms: 300,
        idle_timeout_ms: 0,
        ..MockParams::default()
    })
    .await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
    let sent = Instant::now();
    conn.write_all(b"POST /v1/chat/comp").await.expect("half a request line");
    let (at, got) = closed(&mut conn).await.expect("slow-header connection closed within 20 s");
    assert!(at - sent >= Duration::from_millis(300), "closed after {:?}", at - sent);
    assert!(got.is_empty(), "answered a request that never arrived: {got:?}");
    // Complete requests on other connections are unaffected.
    let r = client().get(s.url("/health")).send().await.expect("health");
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = MockServer::start(MockParams {
        idle_timeout_ms: 300,
        header_read_timeout_ms: 0,
        ..MockParams::default()
    })
    .await;
    // Connected, never a byte.
    let connected = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
    // A keep-alive connection after one answered request.
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
    let sent = Instant::now();
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("{\"status\":\"ok\"}") {
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf))
            .await
            .expect("answer within 20 s")
            .expect("read");
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    let (at, rest) = closed(&mut conn).await.expect("idle keep-alive connection closed in 20 s");
    assert!(at - sent >= Duration::from_millis(300), "closed after {:?}", at - sent);
    assert!(rest.is_empty(), "{rest:?}");
    let (at, _) = closed(&mut silent).await.expect("silent connection closed within 20 s");
    assert!(at - connected >= Duration::from_millis(300), "closed after {:?}", at - connected);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_longer_than_the_idle_timeout_complete() {
    // 30 tokens 50 ms apart (1.5 s), after a 400 ms prefill, with the idle timeout at 300 ms: a
    // request in flight is never idle, however long it runs or waits between chunks.
    let s = MockServer::start(MockParams {
        idle_timeout_ms: 300,
        header_read_timeout_ms: 300,
        ..timed(4, 400.0, 50.0, 0.0)
    })
    .await;
    // A new connection per request: a pooled one that went idle between the two could be closed
    // by the server just as the client reuses it.
    let c =
        reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().expect("client");
    let (_, events) = stream(&c, &s.url("/v1/chat/completions"), &chat_body(30, true)).await;
    assert_eq!(content_events(&events).len(), 30);
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    // A non-streaming answer that takes longer than the idle timeout.
    let r = c
        .post(s.url("/v1/completions"))
        .json(&json!({"prompt": "x", "max_tokens": 3}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The real aiperf.

/// Model used by the aiperf tests.
fn aiperf_params(max_num_seqs: u32) -> MockParams {
    MockParams {
        max_num_seqs,
        prefill_base_ms: 30.0,
        prefill_per_token_ms: 0.2,
        decode_base_ms: 12.0,
        decode_per_seq_ms: 1.5,
        ..MockParams::default()
    }
}

/// Runs `aiperf profile` against `s` and returns (profile_export_aiperf.json, inputs.json).
async fn aiperf(s: &MockServer, args: &[&str]) -> (Value, Value) {
    let (aiperf, tokenizer) =
        tokio::task::spawn_blocking(common::managed_aiperf).await.expect("venv");
    let _one_at_a_time = TIMING.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // aiperf 0.13 leaves an empty `aiperf_mmap_<id>` directory in its TMPDIR after every run
    // (sweeper gives each run a private one): here, in a temp dir of the test's own.
    let aiperf_tmp = tempfile::tempdir().expect("temp dir");
    let mut cmd = tokio::process::Command::new(&aiperf);
    cmd.env("TMPDIR", aiperf_tmp.path())
        .args(["profile", "--model", "mock-model", "--url", &format!("http://{}", s.addr)])
        .args(["--ui", "none", "--no-server-metrics", "--no-gpu-telemetry"])
        .arg("--tokenizer")
        .arg(&tokenizer)
        .arg("--artifact-dir")
        .arg(dir.path())
        .args(args)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("aiperf finished within 300 s")
        .unwrap_or_else(|e| panic!("failed to run {}: {e}", aiperf.display()));
    assert!(
        out.status.success(),
        "aiperf failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| common::read_json(&dir.path().join(name));
    (read("profile_export_aiperf.json"), read("inputs.json"))
}

fn stat(export: &Value, metric: &str, stat: &str) -> f64 {
    export[metric][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric}.{stat} missing from aiperf's export"))
}

/// Mean estimated prompt tokens of the requests aiperf sent (from its inputs.json).
fn mean_prompt_tokens(inputs: &Value) -> f64 {
    let sessions = inputs["data"].as_array().expect("inputs.json data");
    let counts: Vec<f64> = sessions
        .iter()
        .map(|s| {
            let p = &s["payloads"][0];
            let text =
                p["messages"][0]["content"].as_str().or(p["prompt"].as_str()).expect("prompt text");
            f64::from(estimate_tokens(text))
        })
        .collect();
    counts.iter().sum::<f64>() / counts.len() as f64
}

/// aiperf measures from its own clock, so a loaded machine can only make the time from sending a
/// request to receiving a token longer than the model says: the tests assert that bound (on TTFT
/// and request latency, both measured from the send), which a slow machine cannot break;
/// `cargo bench --bench aiperf_model` compares the figures themselves.
fn assert_at_least(what: &str, measured: f64, model_min: f64) {
    assert!(
        measured >= model_min * 0.999,
        "{what}: aiperf measured {measured:.3}, faster than the model allows ({model_min:.3})"
    );
}

fn assert_osl_exact(export: &Value, osl: f64) {
    for st in ["avg", "min", "max"] {
        assert_eq!(stat(export, "output_sequence_length", st), osl, "output_sequence_length.{st}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiperf_chat_streaming_is_never_faster_than_the_model() {
    let p = aiperf_params(64);
    let s = MockServer::start(p.clone()).await;
    let (export, inputs) = aiperf(
        &s,
        &[
            "--endpoint-type",
            "chat",
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "10",
            "--isl",
            "64",
            "--osl",
            "16",
        ],
    )
    .await;
    assert_eq!(stat(&export, "request_count", "avg"), 10.0);
    assert_osl_exact(&export, 16.0);
    let ttft = p.prefill_base_ms + p.prefill_per_token_ms * mean_prompt_tokens(&inputs);
    assert_at_least("TTFT avg", stat(&export, "time_to_first_token", "avg"), ttft);
    // Send to last token: prefill, then 15 decode steps, each at least the step with one
    // sequence running. (TPOT alone has no such bound: a first token read late makes TTFT
    // longer and TPOT shorter than the server's.)
    let step = p.decode_base_ms + p.decode_per_seq_ms;
    assert_at_least(
        "request latency avg",
        stat(&export, "request_latency", "avg"),
        ttft + 15.0 * step,
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiperf_completions_non_streaming_is_never_faster_than_the_model() {
    let p = aiperf_params(64);
    let s = MockServer::start(p.clone()).await;
    let (export, inputs) = aiperf(
        &s,
        &[
            "--endpoint-type",
            "completions",
            "--concurrency",
            "2",
            "--request-count",
            "10",
            "--isl",
            "64",
            "--osl",
            "12",
        ],
    )
    .await;
    assert_eq!(stat(&export, "request_count", "avg"), 10.0);
    assert_osl_exact(&export, 12.0);
    let latency = p.prefill_base_ms
        + p.prefill_per_token_ms * mean_prompt_tokens(&inputs)
        + 11.0 * (p.decode_base_ms + p.decode_per_seq_ms);
    assert_at_least("request latency avg", stat(&export, "request_latency", "avg"), latency);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiperf_constant_request_rate_keeps_the_schedule_and_the_model() {
    // 5 requests/s: one every 200 ms, each done in about 30 + 13 + 7 * 13.5 = 138 ms, so one runs at a time.
    let p = aiperf_params(4);
    let s = MockServer::start(p.clone()).await;
    let (export, inputs) = aiperf(
        &s,
        &[
            "--endpoint-type",
            "chat",
            "--streaming",
            "--request-rate",
            "5",
            "--arrival-pattern",
            "constant",
            "--request-count",
            "8",
            "--isl",
            "64",
            "--osl",
            "8",
        ],
    )
    .await;
    assert_eq!(stat(&export, "request_count", "avg"), 8.0);
    assert_osl_exact(&export, 8.0);
    let ttft = p.prefill_base_ms + p.prefill_per_token_ms * mean_prompt_tokens(&inputs);
    assert_at_least("TTFT avg", stat(&export, "time_to_first_token", "avg"), ttft);
    let step = p.decode_base_ms + p.decode_per_seq_ms;
    assert_at_least(
        "request latency avg",
        stat(&export, "request_latency", "avg"),
        ttft + 7.0 * step,
    );
    // The schedule sends 8 requests 200 ms apart: they span at least 1.4 s, so no more than
    // 8 / 1.4 requests/s can be measured, however the machine is loaded.
    let rps = stat(&export, "request_throughput", "avg");
    assert!(rps > 0.0 && rps <= 8.0 / 1.4, "request throughput {rps:.3}/s beyond the schedule");
    s.stop().await;
}
