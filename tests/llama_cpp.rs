//! A real inference engine: llama.cpp's `llama-server` (built from source by
//! `scripts/llama-cpp.sh`, which `scripts/test.sh` runs) serving a tiny llama model made offline,
//! started by sweeper itself (`server: {kind: llama-cpp}`), measured by the real aiperf. The
//! tests take turns (one engine on the CPUs at a time): the knee they look for is a timing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::*;

/// One engine at a time.
static ENGINE: Mutex<()> = Mutex::new(());

/// The cache of `scripts/llama-cpp.sh`: `bin/llama-server`, `model/tiny-llama.gguf`,
/// `model/tokenizer/`. Missing is a failure, not a skip.
fn cache() -> PathBuf {
    let out =
        Command::new("bash").arg(root().join("scripts/llama-cpp.sh")).arg("dir").output().unwrap();
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for f in ["bin/llama-server", "model/tiny-llama.gguf", "model/tokenizer/tokenizer.json"] {
        assert!(
            dir.join(f).is_file(),
            "{} is missing: run `bash scripts/llama-cpp.sh install` (scripts/test.sh does)",
            dir.join(f).display()
        );
    }
    dir
}

/// A config for the tiny model on `port`: `server` settings (YAML flow entries) and what follows
/// `base_config` (sweeps, search...).
fn config(dir: &Path, name: &str, port: u16, server: &str, base: &[&str], rest: &str) -> PathBuf {
    let c = cache();
    let text = format!(
        "batch_name: {name}\noutput_base_dir: {out}\nserver:\n  kind: llama-cpp\n  executable: {exe}\n  model: {model}\n  threads: 1\n  url: http://127.0.0.1:{port}\n  startup_timeout_s: 60\n{server}base_config:\n  model: tiny-llama\n  tokenizer: {tok}\n  endpoint_type: chat\n  streaming: true\n  extra_inputs: {{ignore_eos: true}}\n  no_gpu_telemetry: true\n{}{rest}",
        ["isl: 32", "osl: 16"]
            .iter()
            .filter(|d| !base.iter().any(|b| b.split(':').next() == d.split(':').next()))
            .chain(base)
            .map(|b| format!("  {b}\n"))
            .collect::<String>(),
        out = dir.join("out").display(),
        exe = c.join("bin/llama-server").display(),
        model = c.join("model/tiny-llama.gguf").display(),
        tok = c.join("model/tokenizer").display(),
    );
    std::fs::create_dir_all(dir).unwrap();
    let f = dir.join(format!("{name}.yaml"));
    std::fs::write(&f, text).unwrap();
    f
}

/// Pids of `llama-server` processes listening on `port` (by their command line).
fn llama_servers(port: u16) -> Vec<i32> {
    let want = format!("--port\0{port}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("llama-server") && cmd.contains(&want) && pid_alive(*pid)
        })
        .collect()
}

/// aiperf's aggregate export of each run of a batch, by run directory.
fn exports(batch: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    all_files(batch)
        .into_iter()
        .filter(|p| p.ends_with("profile_export_aiperf.json"))
        .map(|p| {
            let j = read_json(&p);
            (p, j)
        })
        .collect()
}

#[test]
fn a_concurrency_sweep_against_llama_server_parses_with_exact_osl() {
    let _turn = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let f = config(
        tmp.path(),
        "sweep",
        port,
        "",
        &["request_count: 24", "connection_reuse_strategy: never"],
        "sweeps:\n  concurrency: [1, 4]\n",
    );
    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("server-0: starting llama-cpp server:"), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "sweep");
    let ex = exports(&batch);
    assert_eq!(ex.len(), 2, "{ex:?}");
    for (p, j) in &ex {
        let osl = &j["output_sequence_length"];
        assert_eq!(osl["avg"].as_f64(), Some(16.0), "{}: {osl}", p.display());
        assert_eq!(osl["min"].as_f64(), Some(16.0), "{}: {osl}", p.display());
        assert_eq!(osl["max"].as_f64(), Some(16.0), "{}: {osl}", p.display());
        assert_eq!(j["request_count"]["avg"].as_f64(), Some(24.0), "{}", p.display());
        assert!(j["error_summary"].as_array().is_none_or(Vec::is_empty), "{}", j["error_summary"]);
    }
    // The report parses the same figures, and provenance names the engine and its command.
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("| concurrency=1 |") || md.contains("concurrency=1"), "{md}");
    let prov = read_json(&batch.join("provenance.json"));
    let s = &prov["servers"]["server-0"];
    assert_eq!(s["kind"], "llama-cpp", "{prov}");
    assert!(s["launch"].as_str().unwrap().contains("--parallel 4"), "{prov}");
    assert!(s["served_models"].to_string().contains("tiny-llama"), "{prov}");
    assert!(llama_servers(port).is_empty(), "llama-server left running");
}

#[test]
fn search_finds_the_knee_at_parallel() {
    let _turn = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    // Up to `parallel` requests are served at once (TTFT tens of ms); one more waits for a slot,
    // i.e. for up to a whole response: 128 steps of ~3.6 ms on a quiet machine, its p95 ~550 ms
    // and up (with 64 steps, 264-312 ms: too near any SLO above the served side's noise, which
    // reached 160-320 ms). The engine computes on the CPUs, so a VM whose hypervisor steals CPU
    // time slows both sides alike: steps of 8-29 ms were seen, and once 40 ms (steal 62-69%). No
    // fixed SLO separates the two sides across a 10x slowdown, so an attempt whose answer is
    // off counts only when sweeper measured its runs on a quiet machine: one with a run flagged
    // "measured on a busy machine" (hypervisor steal over 5%, other processes over 25% of the
    // CPUs) is run again, up to 3 attempts; a wrong answer from quiet runs fails at once.
    let mut attempts = Vec::new();
    let (md, batch) = loop {
        let dir = tmp.path().join(format!("attempt{}", attempts.len() + 1));
        let f = config(
            &dir,
            "knee",
            port,
            "",
            &["request_count: 40", "osl: 128", "connection_reuse_strategy: never"],
            "sweeps:\n  server.parallel: [2, 4]\nsearch: {variable: concurrency, min: 1, max: 16, slo: {ttft_p95_ms: 350}}\n",
        );
        let out = sweeper().arg("-c").arg(&f).output().unwrap();
        let log = text(&out);
        assert_eq!(out.status.code(), Some(0), "{log}");
        let batch = batch_dir(&dir.join("out"), "knee");
        let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
        let right = md.contains("| server.parallel=2 | **2** |")
            && md.contains("| server.parallel=4 | **4** |");
        if right {
            break (md, batch);
        }
        let busy = md.contains("was measured on a busy machine");
        assert!(busy, "a wrong answer from runs on a quiet machine:\n{md}");
        attempts.push(md);
        assert!(attempts.len() < 3, "3 attempts, each on a busy machine:\n{}", attempts.join("\n"));
        eprintln!("attempt {} answered on a busy machine; again", attempts.len());
    };
    // llama.cpp's own `/metrics` (`llamacpp:*`), scraped by aiperf: at most `parallel` requests
    // run, the rest are deferred, and the knee is explained by that queue.
    let s = read_json(&batch.join("summary.json"));
    let rows: Vec<&serde_json::Value> =
        s["rows"].as_array().unwrap().iter().filter(|r| r["server"].is_object()).collect();
    assert!(!rows.is_empty(), "no server figures: {s}");
    for r in &rows {
        assert_eq!(r["server"]["servers"], serde_json::json!(["llama.cpp"]), "{r}");
        let parallel: f64 = r["params"]["server.parallel"].as_str().unwrap().parse().unwrap();
        let max = r["server"]["figures"]["running_max"]["mean"].as_f64().unwrap();
        assert!(max <= parallel, "running {max} > parallel {parallel}: {r}");
    }
    assert!(md.contains("Why `server.parallel=2` breaks at 3: the server showed queue"), "{md}");
    assert!(md.contains("admission-bound"), "{md}");
}

#[test]
fn a_server_that_cannot_load_its_model_is_reported_with_its_log() {
    let _turn = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let f = config(tmp.path(), "bad", port, "", &["request_count: 4"], "");
    let bad = tmp.path().join("no-such-model.gguf");
    let text_ = std::fs::read_to_string(&f).unwrap();
    let good = cache().join("model/tiny-llama.gguf").display().to_string();
    std::fs::write(&f, text_.replace(&good, &bad.display().to_string())).unwrap();
    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    // The server's own words, from the tail of its log.
    assert!(log.contains("exited") || log.contains("failed"), "{log}");
    assert!(log.contains("no-such-model.gguf"), "{log}");
    assert!(
        log.to_lowercase().contains("failed to load model") || log.contains("llama_model_load"),
        "{log}"
    );
    let batch = batch_dir(&tmp.path().join("out"), "bad");
    let pr = read_json(&batch.join("process_result.json"));
    assert_eq!(pr["status"], "failed", "{pr}");
    assert!(llama_servers(port).is_empty());
}

/// Starts a long sweep and waits until its llama-server is up and aiperf runs against it.
fn start_long(dir: &Path, port: u16) -> std::process::Child {
    let f = config(dir, "long", port, "", &["benchmark_duration: 120", "concurrency: 2"], "");
    // A session killed with -9 leaves its private temp dir (a later --resume removes it): here,
    // in the test's own temp dir rather than the machine's /tmp.
    let child = sweeper()
        .arg("-c")
        .arg(&f)
        .env("TMPDIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(120), || {
            !llama_servers(port).is_empty()
                && all_files(&dir.join("out")).iter().any(|p| p.ends_with("run_metadata.json"))
        }),
        "llama-server never came up"
    );
    std::thread::sleep(Duration::from_secs(3));
    child
}

#[test]
fn ctrl_c_and_kill_9_leave_no_llama_server_behind() {
    let _turn = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();

    let port = free_port();
    let mut child = start_long(&tmp.path().join("int"), port);
    let pid = child.id() as i32;
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(wait_for(Duration::from_secs(10), || llama_servers(port).is_empty()), "after Ctrl-C");

    let port = free_port();
    let mut child = start_long(&tmp.path().join("kill"), port);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        wait_for(Duration::from_secs(30), || llama_servers(port).is_empty()),
        "after kill -9: {:?}",
        llama_servers(port)
    );
}

/// `GET /health` answers 200.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}

/// One HTTP/1.1 request on a fresh connection: the response's head, and whether the server
/// closed the connection after it (the next read gives end of file within 2 s).
fn one_request(port: u16, body: &str) -> (String, bool) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false, // still open after 2 s without a byte
        }
    };
    let text = String::from_utf8_lossy(&got).into_owned();
    (text.split("\r\n\r\n").next().unwrap_or_default().to_owned(), closed)
}

#[test]
fn llama_server_closes_streamed_connections_and_never_reusing_them_gives_no_errors() {
    let _turn = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let c = cache();
    // The engine's behaviour itself: after a streamed response it closes the connection,
    // although the response advertises keep-alive; after a plain one it keeps it open.
    let port = free_port();
    let mut server = Command::new(c.join("bin/llama-server"))
        .args(["-m", &c.join("model/tiny-llama.gguf").display().to_string()])
        .args(["--alias", "tiny-llama", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--parallel", "2", "-c", "4096", "--threads", "1", "--no-webui"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_for(Duration::from_secs(60), || healthy(port));
    let msg = r#"{"model":"tiny-llama","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"ignore_eos":true"#;
    let (streamed, plain) = if up {
        (
            one_request(port, &format!("{msg},\"stream\":true}}")),
            one_request(port, &format!("{msg}}}")),
        )
    } else {
        Default::default()
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "llama-server did not come up");
    let head = streamed.0.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200") && !head.contains("connection: close"), "{head}");
    assert!(streamed.1, "a streamed response leaves the connection open:\n{head}");
    assert!(!plain.1, "a plain response closes the connection:\n{}", plain.0);

    // With aiperf's default pooled connections some requests are written into such a closed
    // connection (sporadic: about 1 in 100 to 1 in 600 here); each one is recognised. With `never`: none.
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, reuse: &str| {
        let f = config(
            tmp.path(),
            name,
            free_port(),
            "",
            &["request_count: 400", "osl: 4", "concurrency: 4", reuse],
            "",
        );
        let out = sweeper().arg("-c").arg(&f).output().unwrap();
        let batch = batch_dir(&tmp.path().join("out"), name);
        let ex = exports(&batch);
        assert_eq!(ex.len(), 1);
        let errors: u64 = ex[0].1["error_summary"]
            .as_array()
            .map_or(0, |a| a.iter().map(|e| e["count"].as_u64().unwrap_or(0)).sum());
        (text(&out), errors, ex[0].1.clone())
    };
    let hint = "Set `connection_reuse_strategy: never` in base_config";
    let (log, errors, export) = run("pooled", "connection_reuse_strategy: pooled");
    eprintln!("pooled connections: {errors} failed request(s) of 400");
    if errors > 0 {
        assert!(
            log.contains(&format!(
                "warning: {errors} request(s) failed because the server closed the connection"
            )) && log.contains(hint),
            "{log}\n{}",
            export["error_summary"]
        );
    }
    let (log, errors, export) = run("never", "connection_reuse_strategy: never");
    assert_eq!(errors, 0, "{}", export["error_summary"]);
    assert_eq!(export["request_count"]["avg"].as_f64(), Some(400.0));
    assert!(!log.contains(hint), "{log}");
}
