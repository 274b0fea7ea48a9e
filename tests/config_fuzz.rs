//! Property tests: arbitrary text, and YAML built from a grammar (real and random keys, anchors,
//! aliases, deep nesting), fed to `config::load_str` and, when it loads, `plan::expand`: never a
//! panic, always an answer within a time bound.

mod common;

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use sweeper::config::{LoadOptions, load_str};

/// One call must answer within this much CPU time (debug build, slow machine). CPU time, not
/// wall time: the test machines are shared and wall time under load is noise.
const BOUND: Duration = Duration::from_secs(2);

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn check(text: String) -> Result<(), TestCaseError> {
    let cpu_start = thread_cpu();
    match load_str(Path::new("fuzz.yaml"), text, &LoadOptions::default()) {
        Ok(cfg) => {
            let r = sweeper::plan::expand(&cfg);
            if let Err(e) = r {
                // Errors must render (positions within the text) without panicking.
                let _ = e.to_string();
            }
        }
        Err(e) => {
            prop_assert!(!e.diagnostics.is_empty());
            let _ = e.to_string();
        }
    }
    let cpu = thread_cpu() - cpu_start;
    prop_assert!(cpu < BOUND, "took {cpu:?} of CPU");
    Ok(())
}

const KEYS: &[&str] = &[
    "batch_name",
    "output_base_dir",
    "base_config",
    "sweeps",
    "scenarios",
    "exclude",
    "server",
    "aiperf",
    "targets",
    "max_combinations",
    "model",
    "url",
    "concurrency",
    "isl",
    "osl",
    "prompt_input_tokens_mean",
    "streaming",
    "endpoint_type",
    "goodput",
    "api_key",
    "api_key_env_var",
    "extra_args",
    "extra_inputs",
    "kind",
    "server.max_num_seqs",
    "points",
    "match",
    "ttft_ms",
    "request_rate_mode",
    "tokenizer",
    "x",
];

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..300).prop_map(|n| n.to_string()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("chat".to_owned()),
        Just("embeddings".to_owned()),
        Just("mock".to_owned()),
        Just("http://127.0.0.1:8000".to_owned()),
        Just("\"time_to_first_token:25\"".to_owned()),
        Just("1.5e3".to_owned()),
        Just("-.inf".to_owned()),
        Just("'quoted: colon'".to_owned()),
        "[a-z_]{0,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => "[a-z._]{1,10}"]
}

/// A flow-style node (`[..]`, `{..}`, scalars), possibly anchored (`&aN`) or an alias (`*aN`).
fn node() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => scalar(),
        1 => (0u8..6).prop_map(|n| format!("*a{n}")),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key(), inner.clone()), 0..6).prop_map(|v| {
                let kv: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", kv.join(", "))
            }),
            (0u8..6, inner).prop_map(|(n, v)| format!("&a{n} {v}")),
        ]
    })
}

/// A block mapping: top-level keys, each with a flow node or a nested block mapping.
fn document() -> impl Strategy<Value = String> {
    let entry = (key(), prop::option::of(prop::collection::vec((key(), node()), 0..6)), node());
    prop::collection::vec(entry, 0..8).prop_map(|entries| {
        let mut s = String::new();
        for (k, block, flow) in entries {
            match block {
                Some(items) => {
                    s.push_str(&format!("{k}:\n"));
                    for (ik, iv) in items {
                        s.push_str(&format!("  {ik}: {iv}\n"));
                    }
                }
                None => s.push_str(&format!("{k}: {flow}\n")),
            }
        }
        s
    })
}

/// A valid config, mutated by one byte-level edit (truncate, insert, delete).
fn mutated_valid() -> impl Strategy<Value = String> {
    let base = "batch_name: b\nbase_config:\n  model: m\n  url: http://127.0.0.1:8000\n  concurrency: 0\n  streaming: true\nscenarios:\n  - {isl: 128, osl: 128}\n  - {isl: 256, osl: 64}\nsweeps:\n  concurrency: [1, 2, 4]\nexclude:\n  - {isl: 256, concurrency: 4}\n";
    (
        0..base.len(),
        0u8..3,
        prop::sample::select(
            &[b' ', b'\t', b':', b'-', b'[', b'{', b'&', b'*', b'\n', b'#', b'"', b'0'][..],
        ),
    )
        .prop_map(move |(i, op, c)| {
            let mut b = base.as_bytes().to_vec();
            match op {
                0 => b.truncate(i),
                1 => b.insert(i, c),
                _ => {
                    b.remove(i);
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(String::from_utf8_lossy(&bytes).into_owned())?;
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z_:\\-\\[\\]{}&*!|>#'\" ,\n\t0-9.]{0,300}") {
        check(text)?;
    }

    #[test]
    fn grammar_yaml_never_panics(text in document()) {
        check(text)?;
    }

    #[test]
    fn mutated_valid_config_never_panics(text in mutated_valid()) {
        check(text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn deep_nesting_never_panics(depth in 1usize..400, open in prop::sample::select(&["[", "{a: "][..])) {
        let close = if open == "[" { "]" } else { "}" };
        check(format!("base_config: {}{}\n", open.repeat(depth), close.repeat(depth)))?;
        // Unbalanced, too.
        check(format!("sweeps: {}\n", open.repeat(depth)))?;
    }

    #[test]
    fn alias_chains_fail_fast(width in 2usize..12, levels in 1usize..12) {
        let mut s = String::from("a0: &a0 [lol]\n");
        for i in 1..levels {
            s.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); width].join(", ")));
        }
        s.push_str(&format!("base_config:\n  model: m\n  url: http://x\n  extra_args: *a{}\n", levels - 1));
        check(s)?;
    }
}

#[test]
fn a_valid_config_still_loads() {
    // The grammar's baseline: a good config goes all the way through.
    let text =
        "base_config:\n  model: m\n  url: http://127.0.0.1:8000\nsweeps:\n  concurrency: [1, 2]\n";
    assert_eq!(common::config::plan(text).combinations.len(), 2);
}
