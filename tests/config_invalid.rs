//! A corpus of invalid configs (`tests/fixtures/invalid/*.yaml`, each with a comment saying what
//! is wrong), run through the real binary: `sweeper validate FILE` must exit 2 without a panic and
//! name the file, line and column, the key path, the problem and a hint.
//!
//! Cases that cannot be a committed file (unreadable, a directory, non-UTF-8, > 1 MiB) are
//! created at test time in a temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// CPU time (user + system) the process used: unlike wall time, a busy machine does not
    /// inflate it.
    cpu: Duration,
    /// Peak resident memory, bytes.
    max_rss: u64,
}

/// Runs the binary; past `limit` of wall time (a hang guard, far above any real run) the child
/// is killed and the test fails.
#[expect(clippy::zombie_processes, reason = "the child is reaped by wait4, which std cannot see")]
fn run(args: &[&str], limit: Duration) -> Out {
    use std::io::Read;
    let mut child = common::sweeper()
        .args(args)
        .current_dir(common::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sweeper");
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let pid = i32::try_from(child.id()).expect("pid");
    let start = Instant::now();
    // wait4 reaps the child and reports its resource usage (std's Child does not).
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`sweeper {}` did not finish within {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Out {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    }
}

fn validate(file: &str) -> Out {
    run(&["validate", file], Duration::from_secs(300))
}

/// (fixture, expected `LINE:COL` (None: no position), expected key path, message fragment)
const CASES: &[(&str, Option<&str>, &str, &str)] = &[
    // Malformed YAML.
    ("yaml_bad_indent", Some("4:3"), "base_config.model", "did not find expected key"),
    ("yaml_unclosed_bracket", Some("6:16"), "sweeps.concurrency", "unclosed bracket"),
    ("yaml_tab_indent", Some("3:2"), "base_config", "tabs disallowed"),
    (
        "duplicate_yaml_key",
        Some("6:3"),
        "base_config.concurrency",
        "duplicate mapping key: concurrency",
    ),
    ("multiple_documents", Some("5:1"), "base_config.url", "Documents"),
    (
        "deep_nesting",
        Some("2:61"),
        "base_config[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
        "Depth",
    ),
    ("alias_bomb", Some("7:15"), "a5[1]", "budget breached"),
    (
        "top_level_list",
        Some("2:1"),
        "(document)",
        "expected a mapping of config keys, found a list",
    ),
    ("empty_file", None, "(document)", "found null"),
    ("only_comments", None, "(document)", "found null"),
    // Wrong types.
    ("type_string_for_int", Some("5:16"), "base_config.concurrency", "is not of type \"integer\""),
    ("type_list_for_bool", Some("5:14"), "base_config.streaming", "is not of type \"boolean\""),
    // Regression: the message said only `false is not of type "string"`; the hint now says why.
    ("yaml11_boolean_for_string", Some("3:10"), "base_config.model", "quote the value"),
    ("sweep_not_a_list", Some("6:16"), "sweeps.concurrency", "is not of type \"array\""),
    // Unknown keys.
    ("unknown_top_level_key", Some("5:1"), "sweep", "did you mean `sweeps`?"),
    (
        "unknown_base_config_key",
        Some("5:3"),
        "base_config.concurency",
        "did you mean `concurrency`?",
    ),
    ("unknown_base_config_key_no_match", Some("5:3"), "base_config.frobnicate_level", "extra_args"),
    // Regression: a scenario's (or exclude entry's) unknown option got every option listed.
    (
        "unknown_scenario_key_no_match",
        Some("6:16"),
        "scenarios[0].frobnicate_level",
        "not an aiperf 0.13 `profile` option",
    ),
    ("unknown_server_field", Some("4:3"), "server.argvs", "did you mean `argv`?"),
    ("unknown_aiperf_key", Some("6:3"), "aiperf.verison", "did you mean `version`?"),
    // Bad enum values.
    ("bad_endpoint_type", Some("5:18"), "base_config.endpoint_type", "\"chatty\" is not one of"),
    ("bad_request_rate_mode", Some("6:22"), "base_config.request_rate_mode", "poisson"),
    ("bad_server_kind", Some("3:9"), "server.kind", "did you mean `docker`?"),
    ("server_without_kind", Some("2:1"), "server", "needs a `kind`"),
    (
        "kubernetes_manifest_undefined_var",
        Some("4:13"),
        "server.manifest",
        "failed to render the manifest",
    ),
    // Numbers out of range (judged after merging placeholders).
    (
        "negative_concurrency_in_sweep",
        Some("6:20"),
        "sweeps.concurrency[1]",
        "-4 is less than the minimum of 1",
    ),
    (
        "zero_concurrency_no_sweep",
        Some("5:16"),
        "base_config.concurrency",
        "0 is less than the minimum of 1",
    ),
    (
        "zero_concurrency_other_key_swept",
        Some("5:16"),
        "base_config.concurrency",
        "0 is less than the minimum of 1",
    ),
    ("negative_duration", Some("5:23"), "base_config.benchmark_duration", "-60"),
    ("max_combinations_zero", Some("2:19"), "max_combinations", "less than the minimum of 1"),
    ("bad_goodput", Some("6:26"), "base_config.goodput.time_to_first_token", "-5"),
    // Durations and the mock's parameters (issue 11: they panicked or failed at run time).
    (
        "startup_timeout_huge",
        Some("5:95"),
        "server.startup_timeout_s",
        "1e20 seconds is longer than sweeper accepts",
    ),
    (
        "external_startup_timeout_huge",
        Some("4:72"),
        "server.startup_timeout_s",
        "longer than sweeper accepts",
    ),
    ("stop_grace_huge", Some("4:90"), "server.stop_grace_s", "longer than sweeper accepts"),
    ("run_timeout_huge", Some("5:25"), "aiperf.run_timeout_s", "1e30 seconds is longer"),
    (
        "grace_period_negative",
        Some("7:27"),
        "base_config.benchmark_grace_period",
        "must be 0 or more",
    ),
    (
        "benchmark_duration_huge",
        Some("5:23"),
        "base_config.benchmark_duration",
        "1e30 seconds is longer",
    ),
    (
        "duration_huge_in_sweep",
        Some("6:28"),
        "sweeps.benchmark_duration[1]",
        "1e12 seconds is longer",
    ),
    ("non_finite_float", Some("6:27"), "base_config.benchmark_grace_period", "non-finite numbers"),
    (
        "mock_params_out_of_range",
        Some("4:39"),
        "server.prefill_base_ms",
        "between 0 and 3600000 ms, got 1e300",
    ),
    (
        "mock_param_swept_out_of_range",
        Some("6:30"),
        "sweeps.server.decode_base_ms[1]",
        "got 4000000",
    ),
    (
        "integer_option_huge",
        Some("5:27"),
        "sweeps.concurrency[1]",
        "1e+30 is greater than the maximum of 9007199254740991",
    ),
    ("search_max_huge", Some("6:46"), "search.max", "greater than the maximum of 1000000"),
    // Sweeps.
    ("empty_sweep", Some("6:16"), "sweeps.concurrency", "empty sweep list"),
    ("huge_product", Some("5:1"), "sweeps", "1331 combinations, more than the cap of 1000"),
    ("duplicate_sweep_values", Some("6:23"), "sweeps.concurrency[2]", "listed twice"),
    // Regression: `1` and `1.0` were not recognised as the same value.
    ("duplicate_sweep_values_int_float", Some("6:23"), "sweeps.concurrency[2]", "listed twice"),
    ("duplicate_scenarios", Some("7:5"), "scenarios[1]", "repeats an earlier one"),
    (
        "scenario_and_sweep_same_key",
        Some("6:16"),
        "scenarios[0].concurrency",
        "set both by this scenario and by `sweeps`",
    ),
    ("server_sweep_without_server", Some("6:3"), "sweeps.server.ttft_ms", "no `server` section"),
    ("server_sweep_unknown_field", Some("9:3"), "sweeps.server.port", "has no setting `port`"),
    ("exclude_unswept_key", Some("9:22"), "exclude[0].isl", "not swept"),
    ("exclude_empty_entry", Some("8:5"), "exclude[0]", "empty exclude entry"),
    ("exclude_everything", Some("8:3"), "exclude", "every combination is excluded"),
    // Missing required fields.
    ("missing_base_config", Some("2:1"), "(document)", "missing required key `base_config`"),
    ("missing_model", Some("2:1"), "base_config", "missing `model`"),
    ("missing_url", Some("2:1"), "base_config", "missing `url`"),
    // Keys sweeper refuses or owns.
    ("alias_duplicate_isl", Some("6:3"), "base_config.isl", "set the same aiperf option"),
    ("api_key_literal", Some("5:3"), "base_config.api_key", "api_key_env_var"),
    ("artifact_dir", Some("5:3"), "base_config.artifact_dir", "output_base_dir"),
    ("bad_api_key_env_var", Some("5:20"), "base_config.api_key_env_var", "does not match"),
    (
        "bad_health_check_endpoint",
        Some("5:26"),
        "base_config.health_check_endpoint",
        "does not match \"^/\"",
    ),
    ("bad_batch_name", Some("2:13"), "batch_name", "does not match"),
    ("targets_unknown_key", Some("6:3"), "targets.tolerence", "did you mean `tolerance`"),
    // Load searches and rates that cannot work (issue 21).
    (
        "stop_when_server_dimension",
        Some("10:14"),
        "stop_when.dimension",
        "is a server setting: each of its values is its own server",
    ),
    ("request_rate_tiny", Some("5:17"), "base_config.request_rate", "below 0.001 requests/s"),
    ("search_min_rate_tiny", Some("5:39"), "search.min", "below 0.001 requests/s"),
    (
        "offline_tokenizer_with_executable",
        Some("3:15"),
        "aiperf.executable",
        "needs the managed venv, but `aiperf.executable` is set",
    ),
    // Contradictions only visible in a merged combination.
    ("llama_cpp_url_without_port", Some("5:8"), "server.url", "has no host and port"),
    // A/B inside one batch.
    ("ab_key_not_swept", Some("7:7"), "ab.by", "is not a key of `sweeps`"),
    ("ab_without_repeats", Some("4:1"), "ab", "`ab` needs repeats"),
    ("ab_one_value", Some("7:8"), "sweeps.url", "but it has 1"),
    ("ab_unknown_field", Some("7:3"), "ab.server", "did you mean `servers`?"),
    ("ab_with_search", Some("5:1"), "ab", "cannot be used with `search`"),
    ("ab_back_to_back", Some("4:10"), "repeats", "the repeats run back to back"),
    ("ab_together_same_port", Some("5:33"), "ab.servers", "both listen at http://127.0.0.1:8000"),
    ("streaming_embeddings", Some("6:14"), "base_config.streaming", "endpoint_type: embeddings"),
    // The cost section.
    ("cost_nothing_priced", Some("5:1"), "cost", "the cost section prices nothing"),
    ("cost_priced_twice", Some("7:3"), "cost.usd_per_gpu_hour", "keep one"),
    ("cost_negative", Some("5:22"), "cost.usd_per_hour", "less than or equal to the minimum of 0"),
    (
        "cost_sweep_zero",
        Some("7:32"),
        "sweeps.cost.usd_per_gpu_hour[1]",
        "less than or equal to the minimum of 0",
    ),
    ("cost_sweep_unknown_field", Some("7:3"), "sweeps.cost.usd_per_gpu", "`cost.usd_per_gpu_hour`"),
    ("cost_unknown_key", Some("6:3"), "cost.eur_per_hour", "unknown key `eur_per_hour`"),
    (
        "streaming_embeddings_swept",
        Some("5:14"),
        "base_config.streaming",
        "endpoint_type: embeddings",
    ),
];

/// Checks one failed validation; returns the problems found (empty when it is as expected).
fn check(file: &str, out: &Out, pos: Option<&str>, key: &str, fragment: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let e = &out.stderr;
    if out.code != Some(2) {
        bad.push(format!("exit code {:?}, expected 2", out.code));
    }
    if e.contains("panicked") || e.contains("RUST_BACKTRACE") {
        bad.push("panicked".into());
    }
    let loc = match pos {
        Some(p) => format!("--> {file}:{p}: `{key}`"),
        None => format!("--> {file}: `{key}`"),
    };
    if !e.contains(&loc) {
        bad.push(format!("no `{loc}`"));
    }
    if !e.contains(fragment) {
        bad.push(format!("message lacks `{fragment}`"));
    }
    if !e.lines().any(|l| l.trim_start().starts_with("hint: ") && l.trim().len() > 6) {
        bad.push("no hint line".into());
    }
    if !out.stdout.is_empty() {
        bad.push(format!("unexpected stdout: {}", out.stdout));
    }
    bad
}

#[test]
fn every_invalid_fixture_fails_with_location_key_path_message_and_hint() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    // Every fixture is in the table (and vice versa), and says what is wrong with it.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".yaml").to_owned())
        .filter(|n| n != "many_problems")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/fixtures/invalid and CASES differ");
    assert!(CASES.len() >= 30);

    let mut failures = Vec::new();
    for (name, pos, key, fragment) in CASES {
        let file = format!("tests/fixtures/invalid/{name}.yaml");
        let text = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).unwrap();
        if *name != "empty_file" && !text.starts_with("# WRONG: ") {
            failures.push(format!("{file}: first line must be `# WRONG: <what is wrong>`"));
        }
        let out = validate(&file);
        let bad = check(&file, &out, *pos, key, fragment);
        if !bad.is_empty() {
            failures.push(format!("{file}: {}\n--- stderr:\n{}", bad.join("; "), out.stderr));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn many_problems_are_reported_at_once() {
    let file = "tests/fixtures/invalid/many_problems.yaml";
    let out = validate(file);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("7 problems"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("\n  --> ").count(), 7, "{}", out.stderr);
    for key in [
        "batch_name",
        "base_config.concurency",
        "base_config.endpoint_type",
        "base_config.streaming",
        "base_config.api_key",
        "sweeps.isl",
        "sweeps.osl[1]",
    ] {
        assert!(out.stderr.contains(&format!(": `{key}`")), "missing {key}:\n{}", out.stderr);
    }
    // In file order.
    let lines: Vec<usize> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  --> "))
        .map(|l| l.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [2, 6, 7, 8, 9, 11, 12]);
}

#[test]
fn alias_bomb_fails_fast() {
    // 9^9 nodes if expanded. It needs well under 0.1 s of CPU; expanding the aliases would take
    // minutes. CPU time, not wall time: other work on the machine does not count.
    let out =
        run(&["validate", "tests/fixtures/invalid/alias_bomb.yaml"], Duration::from_secs(300));
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("budget breached"), "{}", out.stderr);
    assert!(out.cpu < Duration::from_secs(2), "used {:?} of CPU", out.cpu);
}

#[test]
fn placeholders_overridden_by_every_combination_are_valid() {
    for f in ["placeholder_overridden", "placeholder_overridden_by_scenarios"] {
        let out = validate(&format!("tests/fixtures/valid/{f}.yaml"));
        assert_eq!(out.code, Some(0), "{f}: {}", out.stderr);
        assert!(out.stdout.contains("is valid"), "{f}: {}", out.stdout);
    }
}

#[test]
fn max_combinations_flag_raises_the_cap() {
    let f = "tests/fixtures/invalid/huge_product.yaml";
    let out = run(&["validate", f, "--max-combinations", "2000"], Duration::from_secs(300));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("1331 combinations"), "{}", out.stdout);
    // Still refused below the product.
    let out = run(&["validate", f, "--max-combinations", "1330"], Duration::from_secs(300));
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cap of 1330"), "{}", out.stderr);
}

/// Files that cannot be committed: created in a temporary directory.
#[test]
fn unreadable_directory_non_utf8_and_oversized_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| -> PathBuf { tmp.path().join(n) };
    let s = |p: &Path| p.display().to_string();

    // Unreadable: tests run as root, where mode 000 is still readable, so use a path inside a
    // directory that does not exist, and a dangling symbolic link.
    let missing = p("no-such-dir/config.yaml");
    let out = validate(&s(&missing));
    let bad = check(&s(&missing), &out, None, "(document)", "No such file or directory");
    assert!(bad.is_empty(), "missing: {bad:?}\n{}", out.stderr);

    let link = p("dangling.yaml");
    std::os::unix::fs::symlink(p("gone.yaml"), &link).unwrap();
    let out = validate(&s(&link));
    let bad = check(&s(&link), &out, None, "(document)", "symbolic link");
    assert!(bad.is_empty(), "dangling symlink: {bad:?}\n{}", out.stderr);

    let dir = p("dir.yaml");
    std::fs::create_dir(&dir).unwrap();
    let out = validate(&s(&dir));
    let bad = check(&s(&dir), &out, None, "(document)", "is a directory");
    assert!(bad.is_empty(), "directory: {bad:?}\n{}", out.stderr);

    // Non-UTF-8: 0xFF at line 3, column 12.
    let bin = p("latin1.yaml");
    std::fs::write(
        &bin,
        b"# WRONG: not UTF-8\nbase_config:\n  model: \"m\xff\xfe\"\n  url: http://x\n",
    )
    .unwrap();
    let out = validate(&s(&bin));
    let bad = check(&s(&bin), &out, Some("3:12"), "(document)", "not valid UTF-8");
    assert!(bad.is_empty(), "non-UTF-8: {bad:?}\n{}", out.stderr);

    // Over 1 MiB (valid YAML otherwise: the size alone is refused, before parsing).
    let big = p("big.yaml");
    let mut text = String::from("base_config:\n  model: m\n  url: http://127.0.0.1:8000\n");
    while text.len() <= 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    common::config::write(tmp.path(), "big.yaml", &text);
    let out = validate(&s(&big));
    let bad = check(&s(&big), &out, None, "(document)", "a config may be at most 1048576");
    assert!(bad.is_empty(), "big file: {bad:?}\n{}", out.stderr);
}

/// Regression (issue 11): size abuse. The duplicate check of a sweep list was quadratic (100,000
/// values: 23.5 s to reach the cap error); `max_combinations: 1e18` with 5 x 1000 values aborted
/// on a 24 PB allocation; 1e8 with 4 x 100 grew to 3.7 GB. Sizes are checked before anything
/// is allocated: each answer here takes well under 2 s of CPU and 500 MB.
#[test]
fn huge_sweeps_are_refused_quickly_and_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let list = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let head = "base_config:\n  model: m\n  url: http://127.0.0.1:1\n";
    let cases = [
        (
            "long_list",
            format!("{head}sweeps:\n  concurrency: [{}]\n", list(100_000)),
            "100000 combinations, more than the cap of 1000",
        ),
        (
            "cap_1e18",
            format!(
                "max_combinations: 1000000000000000000\n{head}sweeps:\n  concurrency: [{l}]\n  isl: [{l}]\n  osl: [{l}]\n  random_seed: [{l}]\n  request_count: [{l}]\n",
                l = list(1000)
            ),
            "greater than the maximum of 100000",
        ),
        (
            "cap_1e8",
            format!(
                "max_combinations: 100000000\n{head}sweeps:\n  concurrency: [{l}]\n  isl: [{l}]\n  osl: [{l}]\n  random_seed: [{l}]\n",
                l = list(100)
            ),
            "greater than the maximum of 100000",
        ),
        (
            "flag_1e8",
            format!(
                "{head}sweeps:\n  concurrency: [{l}]\n  isl: [{l}]\n  osl: [{l}]\n  random_seed: [{l}]\n",
                l = list(100)
            ),
            "more than sweeper plans (100000)",
        ),
        (
            "too_big_to_plan",
            format!(
                "max_combinations: 100000\nbase_config:\n  model: m\n  url: http://127.0.0.1:1\n  extra_args: [\"{}\"]\nsweeps:\n  concurrency: [{l}]\n  isl: [{l}]\n",
                "x".repeat(20_000),
                l = list(300)
            ),
            "too large to plan",
        ),
    ];
    for (name, text, expect) in cases {
        let f = common::config::write(tmp.path(), &format!("{name}.yaml"), &text);
        let mut args = vec!["validate", f.to_str().unwrap()];
        if name == "flag_1e8" {
            args.extend(["--max-combinations", "100000000"]);
        }
        let out = run(&args, Duration::from_secs(300));
        assert_eq!(out.code, Some(2), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{name}: {}", out.stderr);
        assert!(out.cpu < Duration::from_secs(2), "{name}: {:?} of CPU", out.cpu);
        assert!(out.max_rss < 500 << 20, "{name}: {} MB", out.max_rss >> 20);
    }
}

/// A value larger than one command-line argument can be: refused by `validate`, not by every
/// run failing with "Argument list too long".
#[test]
fn an_argument_too_long_for_the_kernel_is_found_by_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "base_config:\n  model: m\n  url: http://127.0.0.1:1\n  extra_args: [\"{}\"]\n",
        "x".repeat(200_000)
    );
    let f = common::config::write(tmp.path(), "long.yaml", &text);
    let out = run(&["validate", f.to_str().unwrap()], Duration::from_secs(60));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("one command-line argument holds at most 131072"),
        "{}",
        out.stderr
    );
}
