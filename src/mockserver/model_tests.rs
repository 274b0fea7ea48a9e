//! Unit tests of the serving model: the formulas, and the scheduler in simulated time (KV
//! accounting, preemption order, FIFO admission).

use super::*;

#[test]
fn estimate_is_chars_over_four_rounded_up() {
    assert_eq!(estimate_tokens(""), 0);
    assert_eq!(estimate_tokens("abcd"), 1);
    assert_eq!(estimate_tokens("abcde"), 2);
    assert_eq!(estimate_tokens("ééé"), 1);
}

#[test]
fn formulas() {
    let t = Timing {
        max_num_seqs: 4,
        prefill_base_ms: 10.0,
        prefill_per_token_ms: 0.5,
        decode_base_ms: 5.0,
        decode_per_seq_ms: 1.0,
        kv_cache_tokens: 100,
    };
    assert_eq!(t.prefill(10), Duration::from_millis(15));
    assert_eq!(t.decode_step(3), Duration::from_millis(8));
}

fn waiting(
    prompt_tokens: u32,
    max_tokens: u32,
    at: Instant,
) -> (Waiting, UnboundedReceiver<Token>) {
    let (tokens, rx) = unbounded_channel();
    let w = Waiting {
        tokens,
        prompt_tokens,
        max_tokens,
        emitted: 0,
        arrived: at,
        queued: at,
        preempted: false,
    };
    (w, rx)
}

/// Runs the scheduler in model time (1 ms steps) until every sequence has left, checking
/// the KV cache is never over-used; returns the largest use seen.
fn run_model(s: &mut Scheduler, stats: &EngineStats, t0: Instant) -> u64 {
    let mut now = t0;
    let mut most = s.kv_used;
    while !(s.running.is_empty() && s.waiting.is_empty()) {
        now += Duration::from_millis(1);
        assert!(now < t0 + Duration::from_secs(3600), "the model never finished");
        s.emit_due(now, stats);
        s.admit(None, stats);
        assert!(s.kv_used <= s.timing.kv_cache_tokens, "KV cache over-used");
        let held: u64 = s.running.values().map(Running::kv_tokens).sum();
        assert_eq!(s.kv_used, held, "KV accounting");
        most = most.max(s.kv_used);
    }
    most
}

#[test]
fn full_kv_cache_preempts_the_newest_and_every_stream_still_finishes() {
    // Four sequences of 100 prompt tokens and 100 output tokens need up to 800 KV tokens;
    // the cache holds 500, so they are preempted during decode.
    let timing = Timing {
        max_num_seqs: 8,
        prefill_base_ms: 10.0,
        prefill_per_token_ms: 0.1,
        decode_base_ms: 5.0,
        decode_per_seq_ms: 0.0,
        kv_cache_tokens: 500,
    };
    let stats = EngineStats::default();
    let mut s = Scheduler::new(timing);
    let t0 = Instant::now();
    let mut rxs = Vec::new();
    for i in 0..4 {
        let (w, rx) = waiting(100, 100, t0 + Duration::from_micros(i));
        s.waiting.push_back(w);
        rxs.push(rx);
    }
    s.admit(None, &stats);
    assert_eq!((s.running.len(), s.kv_used), (4, 400), "all four fit at admission");
    assert_eq!(run_model(&mut s, &stats, t0), 500, "the cache filled up");
    let preemptions = stats.preemptions.load(Ordering::Relaxed);
    assert!(preemptions > 0, "no preemption");
    let mut readmissions = 0;
    let mut prefilled = 0;
    for mut rx in rxs {
        let mut tokens = Vec::new();
        while let Ok(t) = rx.try_recv() {
            tokens.push(t);
        }
        let indices: Vec<u32> = tokens.iter().map(|t| t.index).collect();
        assert_eq!(indices, (0..100).collect::<Vec<u32>>(), "every token, once, in order");
        for t in tokens.iter().filter(|t| t.index > 0 && t.step_running == 0) {
            // The first token after a re-admission: a prefill over the prompt and the
            // tokens already streamed.
            readmissions += 1;
            prefilled += 100 + u64::from(t.index);
            assert_eq!(t.due - t.admitted, timing.prefill(100 + t.index), "{t:?}");
        }
        for w in tokens.windows(2).filter(|w| w[1].step_running > 0) {
            assert_eq!(w[1].due - w[0].due, timing.decode_step(w[1].step_running as usize));
        }
    }
    assert!(readmissions > 0 && readmissions <= preemptions, "{readmissions} {preemptions}");
    assert_eq!(stats.tokens_generated.load(Ordering::Relaxed), 400);
    assert_eq!(stats.successes.load(Ordering::Relaxed), 4);
    assert_eq!(stats.prompt_tokens.load(Ordering::Relaxed), 400, "prompts counted once");
    // Queries: every admission's prefill (a sequence preempted during its prefill is
    // admitted again without a token to show for it, so this is at least the sum above).
    assert!(stats.prefix_cache_queries.load(Ordering::Relaxed) >= 400 + prefilled);
    assert_eq!(s.kv_used, 0);
}

#[test]
fn the_newest_is_preempted_and_the_queue_head_blocks_the_rest() {
    let timing = Timing {
        max_num_seqs: 8,
        prefill_base_ms: 1.0,
        prefill_per_token_ms: 0.0,
        decode_base_ms: 1.0,
        decode_per_seq_ms: 0.0,
        kv_cache_tokens: 100,
    };
    let stats = EngineStats::default();
    let mut s = Scheduler::new(timing);
    let t0 = Instant::now();
    // 40 + 40 fit (with a slot each for their first token); 30 more do not; the 5 behind
    // it would fit but must wait behind it (FIFO).
    let mut rxs = Vec::new();
    for (i, (p, m)) in [(40, 30), (40, 30), (30, 10), (5, 1)].into_iter().enumerate() {
        let (w, rx) = waiting(p, m, t0 + Duration::from_micros(i as u64));
        s.waiting.push_back(w);
        rxs.push((rx, m));
    }
    s.admit(None, &stats);
    assert_eq!((s.running.len(), s.waiting.len(), s.kv_used), (2, 2, 80));
    // Ten tokens each fill the cache; the next token preempts the newer sequence.
    let mut now = t0;
    while stats.preemptions.load(Ordering::Relaxed) == 0 {
        now += Duration::from_millis(1);
        s.emit_due(now, &stats);
    }
    assert_eq!(s.running.keys().copied().collect::<Vec<_>>(), vec![0], "the older runs on");
    let head = s.waiting.front().expect("preempted");
    assert!(head.preempted && head.prompt_tokens == 40 && head.emitted > 0);
    assert_eq!(s.waiting.len(), 3, "back at the front of the queue");
    run_model(&mut s, &stats, now);
    for (mut rx, max) in rxs {
        let mut indices = Vec::new();
        while let Ok(t) = rx.try_recv() {
            indices.push(t.index);
        }
        assert_eq!(indices, (0..max).collect::<Vec<u32>>());
    }
    assert_eq!(stats.successes.load(Ordering::Relaxed), 4);
}
