//! Load benchmark of the mock server on loopback: many concurrent streaming requests, streamed
//! tokens per second, and the latency the server adds to each chunk beyond its model.
//!
//! Run: `cargo bench --bench mock_server`. Bounded: `streams()` streams of `TOKENS` tokens each,
//! started over `RAMP`, and at most `LIMIT` of wall time; only 127.0.0.1 is used.
//!
//! The model is set to a constant decode step (`decode_per_seq_ms = 0`), so every gap between
//! two chunks of one stream should be exactly `STEP_MS`; the excess of each measured gap over
//! that is what the server (plus the client and the OS, on the same 2 cores) adds.
//!
//! It also enables the server's timing probe (`mockserver::probe`) and prints where the excess
//! comes from, by phase (ramp-up, all open, ramp-down): the same gaps measured at the server,
//! the server's lateness against each token's deadline (engine release and chunk write), the
//! delivery delay (client read minus server write), clusters of server lateness, and CPU time per
//! thread. The client takes each timestamp right after `read` returns, before any parsing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sweeper::mockserver::{MockParams, probe, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Streams to run (`STREAMS` in the environment overrides 1024).
fn streams() -> usize {
    std::env::var("STREAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(1024)
}
const TOKENS: u32 = 150;
const STEP_MS: f64 = 20.0;
const RAMP: Duration = Duration::from_secs(1);
const LIMIT: Duration = Duration::from_secs(60);

/// What one stream saw: when each token arrived.
struct Seen {
    tokens: Vec<Instant>,
    done: bool,
    /// The server's sequence number of the request (from its id `chatcmpl-mock-<n>`).
    server_id: Option<u64>,
}

fn main() {
    let params = MockParams {
        max_num_seqs: 4096,
        prefill_base_ms: 5.0,
        prefill_per_token_ms: 0.0,
        decode_base_ms: STEP_MS,
        decode_per_seq_ms: 0.0,
        ..MockParams::default()
    };

    // The server gets its own thread and runtime, as in `sweeper mock-server`.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::Builder::new()
        .name("server-rt".into())
        .spawn(move || {
            let rt = sweeper::mockserver::runtime().expect("server runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                addr_tx.send(listener.local_addr().expect("local addr")).expect("send addr");
                serve(listener, params, async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        })
        .expect("server thread");
    let addr = addr_rx.recv().expect("server address");
    probe::enable(streams() * TOKENS as usize);

    // The load generator: one thread.
    let client_rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    let started = Instant::now();
    let result = client_rt.block_on(async {
        tokio::time::timeout(LIMIT, async {
            let mut tasks = Vec::with_capacity(streams());
            let spacing = RAMP / u32::try_from(streams()).expect("stream count fits u32");
            for i in 0..streams() {
                let at = tokio::time::Instant::now() + spacing * u32::try_from(i).expect("fits");
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    one_stream(addr).await
                }));
            }
            let mut seen = Vec::with_capacity(streams());
            for t in tasks {
                seen.push(t.await.expect("client task"));
            }
            seen
        })
        .await
    });
    let wall = started.elapsed();
    let cpu = thread_cpu();
    let _ = stop_tx.send(());
    let _ = server.join();

    let Ok(seen) = result else {
        eprintln!("FAIL: the run did not finish within {LIMIT:?}");
        std::process::exit(1);
    };
    let failed: Vec<String> = seen.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
    if let Some(e) = failed.first() {
        eprintln!("FAIL: {} of {} streams failed, first: {e}", failed.len(), streams());
        std::process::exit(1);
    }
    let seen: Vec<Seen> = seen.into_iter().filter_map(Result::ok).collect();
    let records = probe::take();
    let ok = report(&seen, wall);
    diagnose(&seen, &records);
    println!("  CPU time by thread, user+system (s): {cpu}");
    if !ok {
        std::process::exit(1);
    }
}

async fn one_stream(addr: SocketAddr) -> Result<Seen, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let body = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"benchmark prompt"}}],"stream":true,"max_completion_tokens":{TOKENS},"stream_options":{{"include_usage":true}}}}"#
    );
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut scan = 0;
    let mut read = [0u8; 16 * 1024];
    let mut seen =
        Seen { tokens: Vec::with_capacity(TOKENS as usize), done: false, server_id: None };
    while !seen.done {
        let n = s.read(&mut read).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!("connection closed after {} tokens", seen.tokens.len()));
        }
        let at = Instant::now();
        buf.extend_from_slice(&read[..n]);
        // Each SSE event ends with "\n\n"; chunked-encoding framing between events is harmless.
        while let Some(end) = find(&buf[scan..], b"\n\n") {
            let event = &buf[scan..scan + end];
            if find(event, br#""content":""#).is_some() {
                seen.tokens.push(at);
                if seen.server_id.is_none() {
                    seen.server_id = server_id(event);
                }
            }
            if find(event, b"[DONE]").is_some() {
                seen.done = true;
            }
            scan += end + 2;
        }
        if scan > 32 * 1024 {
            buf.drain(..scan);
            scan = 0;
        }
    }
    if seen.tokens.len() != TOKENS as usize {
        return Err(format!("got {} tokens, asked for {TOKENS}", seen.tokens.len()));
    }
    Ok(seen)
}

fn server_id(event: &[u8]) -> Option<u64> {
    let at = find(event, b"chatcmpl-mock-")? + b"chatcmpl-mock-".len();
    let digits: Vec<u8> = event[at..].iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[expect(clippy::cast_precision_loss, reason = "counts are small")]
fn report(seen: &[Seen], wall: Duration) -> bool {
    // Peak concurrency: streams between their first and last token at the same instant.
    let mut edges: Vec<(Instant, i64)> = Vec::new();
    for s in seen {
        edges.push((s.tokens[0], 1));
        edges.push((s.tokens[s.tokens.len() - 1], -1));
    }
    edges.sort();
    let (mut open, mut peak) = (0i64, 0i64);
    for (_, d) in &edges {
        open += d;
        peak = peak.max(open);
    }
    // Throughput while every stream was streaming.
    let from = seen.iter().map(|s| s.tokens[0]).max().expect("streams");
    let to = seen.iter().map(|s| s.tokens[s.tokens.len() - 1]).min().expect("streams");
    let window = to.saturating_duration_since(from).as_secs_f64();
    let in_window =
        seen.iter().flat_map(|s| &s.tokens).filter(|t| **t >= from && **t <= to).count();
    let steady_rate = if window > 0.0 { in_window as f64 / window } else { 0.0 };
    let total: usize = seen.iter().map(|s| s.tokens.len()).sum();
    // Added latency per chunk: measured gap minus the model's step.
    let mut excess: Vec<f64> = seen
        .iter()
        .flat_map(|s| s.tokens.windows(2).map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0 - STEP_MS))
        .collect();
    excess.sort_by(f64::total_cmp);
    // The same, only for gaps that ended while every stream was open (no connection set-up).
    let mut steady: Vec<f64> = seen
        .iter()
        .flat_map(|s| {
            s.tokens
                .windows(2)
                .filter(|w| w[0] >= from && w[1] <= to)
                .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0 - STEP_MS)
        })
        .collect();
    steady.sort_by(f64::total_cmp);

    let p99 = percentile(&excess, 0.99);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split(' ').next().unwrap_or("?").to_owned();
    println!(
        "mock-server load benchmark (127.0.0.1, {} CPUs, load average {load} before the run ended)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "  {} streams x {TOKENS} tokens, started over {RAMP:?}, model step {STEP_MS} ms",
        streams()
    );
    println!("  | figure                                   | measured      | target     |");
    println!("  |------------------------------------------|---------------|------------|");
    println!("  | peak concurrent streams                  | {peak:>13} | >= 1000    |");
    println!("  | tokens/s while all streams were open     | {steady_rate:>13.0} | >= 50000   |");
    println!(
        "  |   (window {:>6.2} s, {in_window} tokens)            |               |            |",
        window
    );
    println!(
        "  | tokens/s over the whole run              | {:>13.0} |            |",
        total as f64 / wall.as_secs_f64()
    );
    println!(
        "  | chunk gap minus model step, p50 (ms)     | {:>13.3} |            |",
        percentile(&excess, 0.5)
    );
    println!("  | chunk gap minus model step, p99 (ms)     | {p99:>13.3} | < 1.0      |");
    println!(
        "  | same, only while all streams open, p99   | {:>13.3} |            |",
        percentile(&steady, 0.99)
    );
    println!(
        "  | chunk gap minus model step, p99.9 (ms)   | {:>13.3} |            |",
        percentile(&excess, 0.999)
    );
    println!(
        "  | chunk gap minus model step, max (ms)     | {:>13.3} |            |",
        excess[excess.len() - 1]
    );
    println!(
        "  | tokens received / wall time              | {total} / {:.2} s |",
        wall.as_secs_f64()
    );
    let ok = peak >= 1000 && steady_rate >= 50_000.0 && p99 < 1.0;
    println!("  result: {}", if ok { "PASS" } else { "FAIL" });
    ok
}

fn ms(d: f64) -> f64 {
    d * 1000.0
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        ms((later - earlier).as_secs_f64())
    } else {
        -ms((earlier - later).as_secs_f64())
    }
}

fn line(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "  {name:<44} n={:>6}  p50 {:>7.3}  p99 {:>7.3}  p99.9 {:>7.3}  max {:>7.3}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        percentile(&v, 0.999),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

/// Where the excess comes from: per phase (ramp-up: before every stream had its first token;
/// all open; ramp-down: after the first stream got its last token), the client-observed excess,
/// the server-side excess of the same gaps (between the moments the server handed the two chunks
/// to hyper), the server's lateness against the model deadline, and the delivery delay (client
/// timestamp minus server write) that the OS and the client's scheduling add.
fn diagnose(seen: &[Seen], records: &[probe::Record]) {
    use std::collections::HashMap;
    if records.is_empty() {
        return;
    }
    let from = seen.iter().map(|s| s.tokens[0]).max().expect("streams");
    let to = seen.iter().map(|s| s.tokens[s.tokens.len() - 1]).min().expect("streams");
    let phase = |t: Instant| usize::from(t > from) + usize::from(t > to);
    let names = ["ramp-up", "all open", "ramp-down"];
    let mut by_stream: HashMap<u64, Vec<&probe::Record>> = HashMap::new();
    for r in records {
        by_stream.entry(r.stream).or_default().push(r);
    }
    let mut client = [vec![], vec![], vec![]];
    let mut server = [vec![], vec![], vec![]];
    let mut late = [vec![], vec![], vec![]];
    let mut engine = [vec![], vec![], vec![]];
    let mut delivery = [vec![], vec![], vec![]];
    for s in seen {
        for w in s.tokens.windows(2) {
            client[phase(w[1])].push(ms((w[1] - w[0]).as_secs_f64()) - STEP_MS);
        }
        let Some(rs) = s.server_id.and_then(|id| by_stream.get_mut(&id)) else { continue };
        rs.sort_by_key(|r| r.index);
        for (r, at) in rs.iter().zip(&s.tokens) {
            let p = phase(*at);
            late[p].push(signed_ms(r.written, r.due));
            engine[p].push(signed_ms(r.released, r.due));
            delivery[p].push(signed_ms(*at, r.written));
        }
        for (w, at) in rs.windows(2).zip(s.tokens.iter().skip(1)) {
            server[phase(*at)].push(signed_ms(w[1].written, w[0].written) - STEP_MS);
        }
    }
    // When the server was late by more than 2 ms: clusters of deadlines (10 ms buckets from the
    // first deadline) and the token indices involved.
    let t0 = records.iter().map(|r| r.due).min().expect("records");
    let mut clusters: std::collections::BTreeMap<u64, (usize, u32, u32, f64)> = Default::default();
    for r in records {
        let l = signed_ms(r.written, r.due);
        if l > 2.0 {
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let b = (signed_ms(r.due, t0) / 10.0) as u64 * 10;
            let e = clusters.entry(b).or_insert((0, u32::MAX, 0, 0.0));
            e.0 += 1;
            e.1 = e.1.min(r.index);
            e.2 = e.2.max(r.index);
            e.3 = e.3.max(l);
        }
    }
    let text: Vec<String> = clusters
        .iter()
        .map(|(b, (n, lo, hi, l))| format!("{b}ms:{n}x idx{lo}-{hi} max{l:.1}"))
        .collect();
    println!("  server lateness > 2 ms, by deadline: {}", text.join("; "));
    println!("  where the time goes (ms), by the phase of the client's arrival time:");
    for (p, name) in names.iter().enumerate() {
        line(&format!("{name}: client gap - step"), std::mem::take(&mut client[p]));
        line(&format!("{name}: server gap - step"), std::mem::take(&mut server[p]));
        line(&format!("{name}: engine release - deadline"), std::mem::take(&mut engine[p]));
        line(&format!("{name}: server write - deadline"), std::mem::take(&mut late[p]));
        line(&format!("{name}: client read - server write"), std::mem::take(&mut delivery[p]));
    }
}

/// User+system CPU seconds of this process's threads, by name.
fn thread_cpu() -> String {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return String::new() };
    let tick = 100.0; // USER_HZ on Linux
    let mut out = vec![];
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        let name = stat[stat.find('(').map_or(0, |i| i + 1)..close].to_owned();
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields after the name: state is 0, utime 11, stime 12.
        // Time spent runnable but waiting for a CPU, and involuntary context switches: how much
        // the thread was kept off the CPU by other threads.
        let sched = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
        let waited = sched.split(' ').nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let preempted = status
            .lines()
            .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            .map_or("?", str::trim)
            .to_owned();
        out.push(format!(
            "{name} {:.2}+{:.2} (waited for a CPU {:.0} ms, preempted {preempted}x)",
            t(11) / tick,
            t(12) / tick,
            waited / 1e6
        ));
    }
    out.join(", ")
}
