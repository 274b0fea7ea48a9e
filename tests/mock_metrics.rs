//! Tests of the mock server's `/metrics` (vLLM's names, labels and types) and of its KV cache:
//! admission, preemption and requests too large for the cache, over HTTP on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::mock::MockServer;
use serde_json::{Value, json};
use sweeper::mockserver::MockParams;
use sweeper::mockserver::model::{LATENCY_BUCKETS, OUTPUT_WORDS, estimate_tokens};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("http client")
}

/// One sample of a `/metrics` text: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A `/metrics` text, parsed strictly: every sample line is `name{labels} value` or
/// `name value`, with a float value, and belongs to a family announced by `# HELP` and
/// `# TYPE` lines before it (a histogram's `_bucket`, `_sum` and `_count` samples belong to
/// the histogram). Returns the samples and each family's type.
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut types = BTreeMap::new();
    let mut helps = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "empty help: {line}");
            helps.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["gauge", "counter", "histogram"].contains(&kind), "{line}");
            assert_eq!(helps.last().map(String::as_str), Some(name), "HELP before TYPE: {line}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "twice: {line}");
        } else {
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (series, value) = line.rsplit_once(' ').expect("sample: series value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line:?}"));
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').expect("labels end with }");
                    (name, parse_labels(labels))
                }
            };
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|f| types.get(*f).is_some_and(|k| k == "histogram"))
                .unwrap_or(name);
            assert!(types.contains_key(family), "sample before its TYPE: {line}");
            samples.push(Sample { name: name.to_owned(), labels, value });
        }
    }
    (samples, types)
}

/// `a="x",b="y \"quoted\""` into a map (values unescaped).
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escaped char").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        assert!(out.insert(key.to_owned(), value).is_none(), "label {key} twice");
        rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
    }
    out
}

/// The metrics of a server, parsed.
struct Metrics {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
    text: String,
}

impl Metrics {
    async fn read(c: &reqwest::Client, s: &MockServer) -> Metrics {
        let r = c.get(s.url("/metrics")).send().await.expect("metrics");
        assert_eq!(r.status(), 200);
        let text = r.text().await.expect("text");
        let (samples, types) = parse(&text);
        Metrics { samples, types, text }
    }

    /// The value of the only sample named `name`.
    fn get(&self, name: &str) -> f64 {
        let found: Vec<&Sample> = self.samples.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "one {name} sample in:\n{}", self.text);
        found[0].value
    }

    /// The value of a count (integer) named `name`.
    fn count(&self, name: &str) -> u64 {
        let v = self.get(name);
        assert!(v >= 0.0 && v.fract() == 0.0, "{name} = {v} is not a count");
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked")]
        let n = v as u64;
        n
    }

    /// A histogram's buckets (`le` and cumulative count, `+Inf` last), sum and count.
    fn histogram(&self, name: &str) -> (Vec<(String, u64)>, f64, u64) {
        assert_eq!(self.types.get(name).map(String::as_str), Some("histogram"), "{name}");
        let bucket = format!("{name}_bucket");
        let buckets: Vec<(String, u64)> = self
            .samples
            .iter()
            .filter(|s| s.name == bucket)
            .map(|s| {
                assert!(s.value >= 0.0 && s.value.fract() == 0.0, "{s:?}");
                #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = s.value as u64;
                (s.labels["le"].clone(), n)
            })
            .collect();
        (buckets, self.get(&format!("{name}_sum")), self.count(&format!("{name}_count")))
    }
}

/// Every vLLM name this server exports, with its type.
const VLLM: [(&str, &str); 11] = [
    ("vllm:num_requests_running", "gauge"),
    ("vllm:num_requests_waiting", "gauge"),
    ("vllm:kv_cache_usage_perc", "gauge"),
    ("vllm:num_preemptions_total", "counter"),
    ("vllm:prompt_tokens_total", "counter"),
    ("vllm:generation_tokens_total", "counter"),
    ("vllm:request_success_total", "counter"),
    ("vllm:prefix_cache_queries_total", "counter"),
    ("vllm:prefix_cache_hits_total", "counter"),
    ("vllm:time_to_first_token_seconds", "histogram"),
    ("vllm:request_queue_time_seconds", "histogram"),
];

/// A completions request for `prompt_chars` characters of prompt and exactly `max` tokens.
fn completion(prompt_chars: usize, max: u32, stream: bool) -> Value {
    json!({"prompt": "x".repeat(prompt_chars), "max_tokens": max, "stream": stream,
           "stream_options": {"include_usage": true}})
}

/// The token texts of a streamed response (ends with `[DONE]`), and its usage.
async fn stream_tokens(c: reqwest::Client, url: String, body: Value) -> (Vec<String>, Value) {
    let mut resp = c.post(&url).json(&body).send().await.expect("request sent");
    assert_eq!(resp.status(), 200, "streaming request failed");
    let mut buf = String::new();
    while let Some(chunk) = resp.chunk().await.expect("stream chunk") {
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    let mut words = Vec::new();
    let mut usage = Value::Null;
    let mut done = false;
    for event in buf.split_terminator("\n\n") {
        let data = event.strip_prefix("data: ").expect("data event");
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).expect("JSON chunk");
        if let Some(text) = v["choices"][0]["text"].as_str().filter(|t| !t.is_empty()) {
            words.push(text.to_owned());
        }
        if !v["usage"].is_null() {
            usage = v["usage"].clone();
        }
    }
    assert!(done, "stream without [DONE]");
    (words, usage)
}

/// The words of exactly `n` tokens, in order.
fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| OUTPUT_WORDS[i % OUTPUT_WORDS.len()].to_owned()).collect()
}

/// Reads `/metrics` every 2 ms for at most 30 s until `ok`, checking `always` on every read.
/// Returns whether `ok` held.
async fn poll(
    c: &reqwest::Client,
    s: &MockServer,
    mut always: impl FnMut(&Metrics),
    ok: impl Fn(&Metrics) -> bool,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let m = Metrics::read(c, s).await;
        always(&m);
        if ok(&m) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_and_waiting_follow_max_num_seqs() {
    // Four slots; outputs of 600 tokens at 5 ms a step run for 3 s, so all eight requests are
    // in by the time the first four finish, however slow the client.
    let s = MockServer::start(MockParams {
        max_num_seqs: 4,
        decode_base_ms: 5.0,
        decode_per_seq_ms: 0.0,
        ..MockParams::default()
    })
    .await;
    let c = client();
    let url = s.url("/v1/completions");
    let spawn = |n: usize| -> Vec<_> {
        (0..n)
            .map(|_| tokio::spawn(stream_tokens(c.clone(), url.clone(), completion(40, 600, true))))
            .collect()
    };
    let eight = spawn(8);
    let mut most_running = 0.0f64;
    let seen = poll(
        &c,
        &s,
        |m| most_running = most_running.max(m.get("vllm:num_requests_running")),
        |m| m.get("vllm:num_requests_running") == 4.0 && m.get("vllm:num_requests_waiting") == 4.0,
    )
    .await;
    assert!(seen, "never saw 4 running and 4 waiting in one read");
    assert!(most_running <= 4.0, "{most_running} running with max_num_seqs 4");
    // The gauge line as vLLM writes it: its labels, a float value.
    let m = Metrics::read(&c, &s).await;
    let line = m
        .text
        .lines()
        .find_map(|l| {
            l.strip_prefix("vllm:num_requests_waiting{model_name=\"mock-model\",engine=\"0\"} ")
        })
        .unwrap_or_else(|| panic!("no labelled waiting gauge in:\n{}", m.text));
    assert!(line.contains('.'), "{line}");
    // The clients leave: their sequences are dropped, running and queued alike.
    for h in eight {
        h.abort();
    }
    assert!(
        poll(
            &c,
            &s,
            |_| {},
            |m| m.get("vllm:num_requests_running") == 0.0
                && m.get("vllm:num_requests_waiting") == 0.0
        )
        .await,
        "the cancelled sequences never left"
    );

    // Four requests on four slots: all run, none waits, at any time.
    let four = spawn(4);
    let mut most_waiting = 0.0f64;
    let seen = poll(
        &c,
        &s,
        |m| most_waiting = most_waiting.max(m.get("vllm:num_requests_waiting")),
        |m| m.get("vllm:num_requests_running") == 4.0,
    )
    .await;
    assert!(seen, "never saw the four running");
    assert_eq!(most_waiting, 0.0, "a request waited with a free slot");
    for h in four {
        h.abort();
    }
    s.stop().await;
}

/// Four streams of `PROMPT_CHARS` characters (100 tokens) and `OUTPUT` tokens each, at once;
/// returns the largest KV-cache usage and the largest queue seen while they ran, then the
/// metrics after they finished.
const PROMPT_CHARS: usize = 400;
const OUTPUT: u32 = 100;

async fn four_long_streams(params: MockParams) -> (f64, f64, Metrics) {
    let s = MockServer::start(params).await;
    let c = client();
    let url = s.url("/v1/completions");
    let streams: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(stream_tokens(
                c.clone(),
                url.clone(),
                completion(PROMPT_CHARS, OUTPUT, true),
            ))
        })
        .collect();
    let (mut most_kv, mut most_waiting) = (0.0f64, 0.0f64);
    let finished = poll(
        &c,
        &s,
        |m| {
            let kv = m.get("vllm:kv_cache_usage_perc");
            assert!((0.0..=1.0).contains(&kv), "KV usage {kv} outside 0..1");
            most_kv = most_kv.max(kv);
            most_waiting = most_waiting.max(m.get("vllm:num_requests_waiting"));
        },
        |m| m.count("vllm:request_success_total") == 4,
    )
    .await;
    assert!(finished, "the four requests never finished");
    let prompt = u64::from(estimate_tokens(&"x".repeat(PROMPT_CHARS)));
    for h in streams {
        let (got, usage) = h.await.expect("stream task");
        assert_eq!(got, words(OUTPUT as usize), "exactly {OUTPUT} tokens, in order");
        assert_eq!(usage["completion_tokens"], OUTPUT);
        assert_eq!(usage["prompt_tokens"], prompt);
    }
    let m = Metrics::read(&c, &s).await;
    s.stop().await;
    (most_kv, most_waiting, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_kv_cache_preempts_and_every_stream_still_gets_all_its_tokens() {
    // Four sequences of 100 prompt tokens and 100 output tokens hold up to 800 KV tokens; the
    // cache holds 500. All four fit at admission (400), and the cache fills after 25 tokens each:
    // the newest is preempted (it waits, in the queue, for one to finish) and so on. 10 ms steps
    // keep the queue filled for hundreds of ms.
    let params = MockParams {
        max_num_seqs: 8,
        prefill_base_ms: 10.0,
        prefill_per_token_ms: 0.05,
        decode_base_ms: 10.0,
        decode_per_seq_ms: 0.0,
        kv_cache_tokens: 500,
        ..MockParams::default()
    };
    let (most_kv, most_waiting, m) = four_long_streams(params.clone()).await;
    let preemptions = m.count("vllm:num_preemptions_total");
    assert!(preemptions > 0, "no preemption with a cache that binds:\n{}", m.text);
    assert!(most_kv >= 0.8, "the cache was never near full: {most_kv}");
    assert!(most_kv <= 1.0);
    assert!(most_waiting >= 1.0, "preempted sequences wait in the queue (and count there)");
    assert_eq!(m.get("vllm:kv_cache_usage_perc"), 0.0, "all freed");
    assert_eq!(m.count("vllm:generation_tokens_total"), 4 * u64::from(OUTPUT), "none re-sent");
    assert_eq!(m.count("vllm:prompt_tokens_total"), 400, "each prompt counted once");
    // Re-admissions prefill again: the prefix cache is queried for more than the prompts.
    assert!(m.count("vllm:prefix_cache_queries_total") > 400);
    assert_eq!(m.count("vllm:prefix_cache_hits_total"), 0);

    // The same load with the default cache: nothing is preempted.
    let (most_kv, _, m) =
        four_long_streams(MockParams { kv_cache_tokens: 1 << 20, ..params }).await;
    assert_eq!(m.count("vllm:num_preemptions_total"), 0);
    assert!(most_kv > 0.0 && most_kv < 0.001, "800 of 2^20 tokens at most: {most_kv}");
    assert_eq!(m.count("vllm:prefix_cache_queries_total"), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histograms_add_up_after_n_requests() {
    // A model name that needs escaping in a label; TTFT is at least the 30 ms prefill.
    let model = "org/a \"quoted\" \\ model";
    let s = MockServer::start(MockParams {
        model: model.into(),
        prefill_base_ms: 30.0,
        prefill_per_token_ms: 0.0,
        decode_base_ms: 1.0,
        ..MockParams::default()
    })
    .await;
    let c = client();
    let m = Metrics::read(&c, &s).await;
    for (name, kind) in VLLM {
        assert_eq!(m.types.get(name).map(String::as_str), Some(kind), "{name}:\n{}", m.text);
    }
    assert_eq!(m.count("vllm:request_success_total"), 0);
    assert_eq!(m.histogram("vllm:time_to_first_token_seconds").2, 0);

    // Six requests: completions and chat, streamed and not, prompts of 1 to 1001 characters.
    let requests: [(&str, String, u32, bool); 6] = [
        ("/v1/completions", "a".to_owned(), 3, true),
        ("/v1/completions", "b".repeat(7), 5, false),
        ("/v1/completions", "c".repeat(1001), 8, true),
        ("/v1/chat/completions", "d".repeat(12), 2, false),
        ("/v1/chat/completions", "é".repeat(9), 13, true),
        ("/v1/completions", "f".repeat(400), 1, false),
    ];
    let (mut prompt_sum, mut max_sum) = (0u64, 0u64);
    for (path, prompt, max, stream) in &requests {
        let body = if path.contains("chat") {
            json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": max,
                   "stream": stream})
        } else {
            json!({"prompt": prompt, "max_tokens": max, "stream": stream})
        };
        let r = c.post(s.url(path)).json(&body).send().await.expect("sent");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("whole response");
        prompt_sum += u64::from(estimate_tokens(prompt));
        max_sum += u64::from(*max);
    }
    assert_eq!(prompt_sum, 1 + 2 + 251 + 3 + 3 + 100, "the chars/4 estimate, rounded up");
    let n = requests.len() as u64;
    let m = Metrics::read(&c, &s).await;
    assert_eq!(m.count("vllm:prompt_tokens_total"), prompt_sum);
    assert_eq!(m.count("vllm:generation_tokens_total"), max_sum);
    assert_eq!(m.count("vllm:request_success_total"), n);
    assert_eq!(m.count("vllm:prefix_cache_queries_total"), prompt_sum, "queried once each");
    assert_eq!(m.count("vllm:prefix_cache_hits_total"), 0);
    assert_eq!(m.count("vllm:num_preemptions_total"), 0);
    assert_eq!(m.count("vllm:num_requests_running"), 0);
    assert_eq!(m.count("vllm:num_requests_waiting"), 0);
    assert_eq!(m.get("vllm:kv_cache_usage_perc"), 0.0);
    assert_eq!(m.count("mock_requests_total"), n);
    assert_eq!(m.count("mock_request_errors_total"), 0);

    // Every vLLM sample carries vLLM's labels, the model name escaped in the text.
    for sample in m.samples.iter().filter(|s| s.name.starts_with("vllm:")) {
        assert_eq!(sample.labels.get("model_name").map(String::as_str), Some(model), "{sample:?}");
        assert_eq!(sample.labels.get("engine").map(String::as_str), Some("0"), "{sample:?}");
    }
    assert!(m.text.contains(r#"model_name="org/a \"quoted\" \\ model""#), "{}", m.text);
    let success: Vec<&Sample> =
        m.samples.iter().filter(|s| s.name == "vllm:request_success_total").collect();
    assert_eq!(success[0].labels.get("finished_reason").map(String::as_str), Some("length"));

    let les: Vec<String> = LATENCY_BUCKETS.iter().map(|b| format!("{b:?}")).collect();
    for name in ["vllm:time_to_first_token_seconds", "vllm:request_queue_time_seconds"] {
        let (buckets, sum, count) = m.histogram(name);
        assert_eq!(count, n, "{name}_count");
        let bounds: Vec<&str> = buckets.iter().map(|(le, _)| le.as_str()).collect();
        let mut expected: Vec<&str> = les.iter().map(String::as_str).collect();
        expected.push("+Inf");
        assert_eq!(bounds, expected, "{name}: the buckets, +Inf last");
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{name} is cumulative: {buckets:?}");
        assert_eq!(buckets.last().map(|b| b.1), Some(count), "{name}: +Inf = count");
        assert!(sum >= 0.0, "{name}_sum {sum}");
    }
    let (ttft, sum, _) = m.histogram("vllm:time_to_first_token_seconds");
    let bucket = |le: &str| ttft.iter().find(|b| b.0 == le).map(|b| b.1);
    assert_eq!(bucket("0.02"), Some(0), "no TTFT under the 30 ms prefill: {ttft:?}");
    assert_eq!(bucket("2560.0"), Some(n));
    #[expect(clippy::cast_precision_loss)]
    let at_least = 0.030 * n as f64;
    assert!(sum >= at_least && sum < 60.0, "TTFT sum {sum} s");
    // Nothing queued (64 slots, one request at a time): every queue time is 0.
    let (queue, sum, _) = m.histogram("vllm:request_queue_time_seconds");
    assert_eq!(queue[0], ("0.001".to_owned(), n), "{queue:?}");
    assert!(sum < 0.001 * 6.0, "queue time sum {sum}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_larger_than_the_kv_cache_is_refused_at_once() {
    let s = MockServer::start(MockParams { kv_cache_tokens: 100, ..MockParams::default() }).await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    // 250 prompt tokens in a cache of 100: HTTP 400 at once, streaming or not.
    for (path, body) in [
        ("/v1/completions", completion(1000, 10, true)),
        ("/v1/completions", completion(1000, 10, false)),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "y".repeat(1000)}], "max_tokens": 10}),
        ),
    ] {
        let t = Instant::now();
        let r = c.post(s.url(path)).json(&body).send().await.expect("answered");
        assert_eq!(r.status(), 400, "{path}");
        let v: Value = r.json().await.expect("JSON error");
        assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
        let e = &v["error"];
        assert_eq!(e["type"], "invalid_request_error", "{v}");
        assert_eq!(e["code"], "context_length_exceeded", "{v}");
        let param = if path.contains("chat") { "messages" } else { "prompt" };
        assert_eq!(e["param"], param, "{v}");
        let msg = e["message"].as_str().expect("message");
        assert!(msg.contains("needs 260 KV-cache tokens") && msg.contains("250"), "{msg}");
        assert!(msg.contains("holds 100"), "{msg}");
    }
    // The prompt fits but not with its output (50 + 60 > 100): refused too (it could never finish).
    let r = c.post(s.url("/v1/completions")).json(&completion(200, 60, false)).send().await;
    let r = r.expect("answered");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("JSON");
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(msg.contains("needs 110 KV-cache tokens"), "{msg}");
    // Exactly the cache (40 + 60 = 100): served in full.
    let v: Value = c
        .post(s.url("/v1/completions"))
        .json(&completion(160, 60, false))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["usage"]["completion_tokens"], 60, "{v}");
    let m = Metrics::read(&c, &s).await;
    assert_eq!(m.count("mock_request_errors_total"), 4);
    assert_eq!(m.count("mock_requests_total"), 5);
    assert_eq!(m.count("vllm:request_success_total"), 1, "refused requests never ran");
    assert_eq!(m.count("vllm:prompt_tokens_total"), 40);
    s.stop().await;
}
