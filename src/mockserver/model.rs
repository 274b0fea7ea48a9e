//! The serving model: prompt-token estimate, prefill and decode-step times, the FIFO admission
//! queue, the KV cache and its preemptions, and the engine task that emits every running
//! sequence's tokens on time.
//!
//! # KV cache
//! The cache holds [`Timing::kv_cache_tokens`] tokens; a running sequence holds its prompt tokens
//! plus the tokens it has emitted. A waiting sequence is admitted only if its tokens, and the slot
//! of the token its prefill produces, fit beside the running ones (FIFO: when the head of the
//! queue does not fit, nothing behind it is admitted). Emitting a token takes one more slot; when
//! none is free, the most recently admitted sequences are preempted until one is (vLLM's
//! recompute preemption): a preempted sequence frees its slots and goes back to the front of the
//! queue, keeps what it already streamed, and when admitted again pays a prefill over its prompt
//! and those tokens before it continues its stream. The oldest running sequence is never
//! preempted for another one, and a sequence whose prompt and output could not fit alone is
//! refused ([`Engine::check`]), so every sequence finishes.
//!
//! The engine is a task in the server's runtime, woken by a Linux `timerfd` rather than by tokio
//! timers: tokio's timer wheel has a 1 ms resolution, which alone would add up to 1 ms of jitter
//! to every chunk, while a `timerfd` in the runtime's epoll set fires within microseconds. HTTP
//! tasks submit sequences over a channel and receive tokens over a per-sequence channel; every
//! wake-up is local to the runtime thread (no other thread to schedule, no system call per
//! token). An earlier version ran the engine on its own OS thread; on two cores shared with a load
//! generator that third busy thread was often kept off the CPU for milliseconds.
//!
//! Due tokens are released in ticks at least [`TICK`] apart, so the streams' writes are batched.
//! A token is therefore released up to one tick after its model time; the gap between two tokens
//! of a sequence is off by at most one tick either way, and never drifts because every deadline is
//! computed from the previous deadline, not from when it was released.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Shortest time between two releases of due tokens.
pub const TICK: Duration = Duration::from_micros(250);

/// One token handed to a sequence's stream.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    /// 0-based index of the token in its sequence.
    pub index: u32,
    /// When the model says the token is due.
    pub due: Instant,
    /// When the engine released it to the stream.
    pub released: Instant,
    /// When the sequence arrived at the engine.
    pub arrived: Instant,
    /// When the sequence was admitted (its prefill started): its arrival, or the model time at
    /// which a slot became free. After a preemption, when it was admitted again.
    pub admitted: Instant,
    /// The running-sequence count `R` of the decode step that made this token due
    /// (`decode_base_ms + decode_per_seq_ms * R` after the previous token); 0 for the first
    /// token of an admission, which is due a prefill after it.
    pub step_running: u32,
}

/// Words streamed as output, one per token, in this order (repeating). Each has a leading space
/// and re-tokenizes as exactly one token, alone and concatenated, with the offline byte-level BPE
/// tokenizer of `make-offline-tokenizer.py` and with GPT-style BPEs (cl100k, o200k), so a client
/// that counts output tokens by re-tokenizing the text counts exactly `max_tokens`.
pub const OUTPUT_WORDS: [&str; 16] = [
    " the", " and", " of", " to", " a", " in", " that", " is", " my", " you", " it", " not",
    " with", " be", " his", " for",
];

/// The word streamed as token number `index` (0-based).
pub fn output_word(index: u32) -> &'static str {
    OUTPUT_WORDS[index as usize % OUTPUT_WORDS.len()]
}

/// Cheap prompt-token estimate used for prefill time and `usage.prompt_tokens`: one token per
/// four characters (Unicode scalar values), rounded up. English BPE tokenizers average about four
/// characters per token; the mock has no real tokenizer.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The timing parameters of the serving model, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// At most this many sequences run at once; the rest wait in a FIFO queue.
    pub max_num_seqs: usize,
    /// Fixed part of the prefill time.
    pub prefill_base_ms: f64,
    /// Prefill time per (estimated) prompt token.
    pub prefill_per_token_ms: f64,
    /// Fixed part of one decode step.
    pub decode_base_ms: f64,
    /// Decode-step time added per running sequence.
    pub decode_per_seq_ms: f64,
    /// Tokens the KV cache holds (at least 1): a running sequence holds its prompt tokens plus
    /// the tokens it has emitted.
    pub kv_cache_tokens: u64,
}

impl Timing {
    /// Time from admission to the first token: `prefill_base_ms + prefill_per_token_ms * prompt_tokens`.
    pub fn prefill(&self, prompt_tokens: u32) -> Duration {
        ms(self.prefill_base_ms + self.prefill_per_token_ms * f64::from(prompt_tokens))
    }

    /// Time between two tokens of one sequence while `running` sequences (including it) are
    /// admitted: `decode_base_ms + decode_per_seq_ms * running`.
    pub fn decode_step(&self, running: usize) -> Duration {
        #[expect(clippy::cast_precision_loss, reason = "sequence counts are far below 2^52")]
        let running = running as f64;
        ms(self.decode_base_ms + self.decode_per_seq_ms * running)
    }
}

fn ms(v: f64) -> Duration {
    // Parameters are validated finite and non-negative; clamp anyway so no input can panic here.
    let s = v / 1000.0;
    Duration::from_secs_f64(if s.is_finite() { s.clamp(0.0, 1.0e9) } else { 0.0 })
}

/// Upper bounds in seconds of the buckets of the engine's latency histograms (vLLM's
/// `time_to_first_token_seconds` buckets); a last bucket, `+Inf`, takes the rest.
pub const LATENCY_BUCKETS: [f64; 22] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];

/// A latency histogram over [`LATENCY_BUCKETS`], written by the engine and read by `/metrics`.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of the observations, in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS.iter().position(|&le| secs <= le).unwrap_or(LATENCY_BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The cumulative count of every bucket, the `+Inf` one last (it is the total count, so the
    /// two always agree), and the sum in seconds.
    pub fn snapshot(&self) -> ([u64; LATENCY_BUCKETS.len() + 1], f64) {
        let mut cumulative = [0; LATENCY_BUCKETS.len() + 1];
        let mut total = 0;
        for (c, n) in cumulative.iter_mut().zip(&self.counts) {
            total += n.load(Ordering::Relaxed);
            *c = total;
        }
        #[expect(clippy::cast_precision_loss, reason = "a sum of latencies is far below 2^52 ns")]
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        (cumulative, sum)
    }
}

/// Live counters of the engine, read by `/metrics`.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Sequences admitted and not finished (prefilling or decoding).
    pub running: AtomicU64,
    /// Sequences waiting in the FIFO queue, preempted ones included.
    pub waiting: AtomicU64,
    /// KV-cache tokens held by the running sequences.
    pub kv_tokens_used: AtomicU64,
    /// Sequences preempted since start.
    pub preemptions: AtomicU64,
    /// Prompt tokens of the sequences admitted since start (each counted at its first admission).
    pub prompt_tokens: AtomicU64,
    /// Tokens emitted since start.
    pub tokens_generated: AtomicU64,
    /// Sequences that emitted all their tokens.
    pub successes: AtomicU64,
    /// Tokens looked up in the (absent) prefix cache: the tokens prefilled at every admission.
    pub prefix_cache_queries: AtomicU64,
    /// From arrival to the release of the first token.
    pub ttft: Histogram,
    /// From arrival to the first admission.
    pub queue_time: Histogram,
}

/// A sequence in the waiting queue: a new request, or a preempted sequence.
struct Waiting {
    tokens: UnboundedSender<Token>,
    prompt_tokens: u32,
    max_tokens: u32,
    /// Tokens already streamed (before a preemption).
    emitted: u32,
    arrived: Instant,
    /// When it entered the queue: its arrival, or the model time it was preempted.
    queued: Instant,
    /// Admitted before (so preempted): its queue time and prompt tokens are counted already.
    preempted: bool,
}

impl Waiting {
    /// KV-cache tokens it needs to be admitted (and its prefill covers): prompt and streamed.
    fn kv_tokens(&self) -> u64 {
        u64::from(self.prompt_tokens) + u64::from(self.emitted)
    }
}

/// Handle to the engine task. The task ends when the last handle is dropped.
#[derive(Debug)]
pub struct Engine {
    tx: UnboundedSender<Waiting>,
    stats: Arc<EngineStats>,
    kv_cache_tokens: u64,
}

/// Why [`Engine::submit`] refused a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// Its prompt and output tokens exceed the KV cache, so it could never finish.
    TooLarge {
        prompt_tokens: u32,
        max_tokens: u32,
        /// The cache's size in tokens.
        kv_cache_tokens: u64,
    },
    /// The engine task is gone (it only ends when every handle is dropped, so this is a bug).
    EngineGone,
}

impl Engine {
    /// Starts the engine task. Must be called inside a tokio runtime with I/O enabled.
    ///
    /// # Errors
    /// When the OS refuses a timer descriptor.
    pub fn start(timing: Timing) -> std::io::Result<Self> {
        let (tx, rx) = unbounded_channel();
        let stats = Arc::new(EngineStats::default());
        let timer = Timer::new()?;
        tokio::spawn(run(rx, timer, timing, Arc::clone(&stats)));
        Ok(Self { tx, stats, kv_cache_tokens: timing.kv_cache_tokens })
    }

    /// The KV cache's size in tokens.
    pub fn kv_cache_tokens(&self) -> u64 {
        self.kv_cache_tokens
    }

    /// Whether a sequence of `prompt_tokens` and `max_tokens` fits in the KV cache alone: to
    /// emit its last token it holds its prompt and every token (`prompt_tokens + max_tokens`).
    ///
    /// # Errors
    /// [`SubmitError::TooLarge`] when it does not fit, so could never finish.
    pub fn check(&self, prompt_tokens: u32, max_tokens: u32) -> Result<(), SubmitError> {
        let kv_cache_tokens = self.kv_cache_tokens;
        if u64::from(prompt_tokens) + u64::from(max_tokens) > kv_cache_tokens {
            return Err(SubmitError::TooLarge { prompt_tokens, max_tokens, kv_cache_tokens });
        }
        Ok(())
    }

    /// Queues a sequence. The receiver yields tokens with indices `0..max_tokens` at the model's times
    /// and then closes. Dropping the receiver cancels the sequence and frees its slot.
    ///
    /// # Errors
    /// When the sequence fails [`check`](Self::check), or the engine task has ended.
    pub fn submit(
        &self,
        prompt_tokens: u32,
        max_tokens: u32,
    ) -> Result<UnboundedReceiver<Token>, SubmitError> {
        self.check(prompt_tokens, max_tokens)?;
        let (tokens, rx) = unbounded_channel();
        let arrived = Instant::now();
        let submit = Waiting {
            tokens,
            prompt_tokens,
            max_tokens,
            emitted: 0,
            arrived,
            queued: arrived,
            preempted: false,
        };
        self.tx.send(submit).map_err(|_| SubmitError::EngineGone)?;
        Ok(rx)
    }

    /// The engine's live counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}

struct Running {
    tokens: UnboundedSender<Token>,
    prompt_tokens: u32,
    max_tokens: u32,
    emitted: u32,
    arrived: Instant,
    admitted: Instant,
    /// `R` of the step that made the next token due (0 before the first token of an admission).
    step_running: u32,
}

impl Running {
    /// KV-cache tokens it holds: its prompt and the tokens it emitted.
    fn kv_tokens(&self) -> u64 {
        u64::from(self.prompt_tokens) + u64::from(self.emitted)
    }
}

/// The engine state, owned by the engine task.
struct Scheduler {
    timing: Timing,
    waiting: VecDeque<Waiting>,
    /// By admission number: the last entry is the most recently admitted.
    running: BTreeMap<u64, Running>,
    /// One entry per running sequence: when its next token is due. Entries of sequences that
    /// left (preempted) stay until they are due and are skipped then.
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The next admission number.
    next_id: u64,
    /// KV-cache tokens held by the running sequences.
    kv_used: u64,
}

impl Scheduler {
    fn new(timing: Timing) -> Self {
        Self {
            timing,
            waiting: VecDeque::new(),
            running: BTreeMap::new(),
            due: BinaryHeap::new(),
            next_id: 0,
            kv_used: 0,
        }
    }

    /// Admits queued sequences, in order, while a slot is free and the head of the queue fits
    /// in the KV cache (its prompt, the tokens it streamed before a preemption, and the slot of
    /// the token its prefill produces). A sequence starts at the later of when it was queued and
    /// `freed_at` (the model time at which room was made), not at the moment the engine got
    /// round to it, so engine wake-up latency does not accumulate. A preempted sequence prefills its prompt and
    /// the tokens it already streamed, then continues with its next token.
    fn admit(&mut self, freed_at: Option<Instant>, stats: &EngineStats) {
        while self.running.len() < self.timing.max_num_seqs {
            let Some(head) = self.waiting.front() else { break };
            let need = head.kv_tokens();
            let gone = head.emitted >= head.max_tokens || head.tokens.is_closed();
            // Room for what it prefills and for the token the prefill produces: a sequence
            // that just preempted itself for lack of that one slot waits for a sequence to
            // finish instead of being prefilled again only to be preempted again.
            if !gone && self.kv_used + need + 1 > self.timing.kv_cache_tokens {
                break;
            }
            let Some(s) = self.waiting.pop_front() else { break };
            if gone {
                // Nothing to emit, or the client left while it waited.
                continue;
            }
            let start = freed_at.map_or(s.queued, |f| f.max(s.queued));
            if !s.preempted {
                stats.queue_time.observe(start.saturating_duration_since(s.arrived));
                stats.prompt_tokens.fetch_add(u64::from(s.prompt_tokens), Ordering::Relaxed);
            }
            stats.prefix_cache_queries.fetch_add(need, Ordering::Relaxed);
            let id = self.next_id;
            self.next_id += 1;
            self.kv_used += need;
            let prefill = self.timing.prefill(u32::try_from(need).unwrap_or(u32::MAX));
            self.due.push(Reverse((start + prefill, id)));
            self.running.insert(
                id,
                Running {
                    tokens: s.tokens,
                    prompt_tokens: s.prompt_tokens,
                    max_tokens: s.max_tokens,
                    emitted: s.emitted,
                    arrived: s.arrived,
                    admitted: start,
                    step_running: 0,
                },
            );
        }
    }

    /// Removes running sequence `id` and frees its KV-cache tokens.
    fn remove(&mut self, id: u64) -> Option<Running> {
        let seq = self.running.remove(&id)?;
        self.kv_used -= seq.kv_tokens();
        Some(seq)
    }

    /// Makes room in the KV cache for one more token of running sequence `id`, at model time
    /// `at`: while there is none, preempts the most recently admitted sequence (back to the
    /// front of the queue, with what it streamed). False if `id` itself was preempted.
    fn make_room(&mut self, id: u64, at: Instant, stats: &EngineStats) -> bool {
        while self.kv_used + 1 > self.timing.kv_cache_tokens {
            let Some(victim) = self.running.last_key_value().map(|(&v, _)| v) else { break };
            let Some(seq) = self.remove(victim) else { break };
            stats.preemptions.fetch_add(1, Ordering::Relaxed);
            self.waiting.push_front(Waiting {
                tokens: seq.tokens,
                prompt_tokens: seq.prompt_tokens,
                max_tokens: seq.max_tokens,
                emitted: seq.emitted,
                arrived: seq.arrived,
                queued: at,
                preempted: true,
            });
            if victim == id {
                return false;
            }
        }
        true
    }

    /// Sends every token due at or before `now` to its stream; returns how many were sent.
    fn emit_due(&mut self, now: Instant, stats: &EngineStats) -> usize {
        let mut sent = 0;
        while let Some(&Reverse((due, id))) = self.due.peek() {
            if due > now {
                break;
            }
            self.due.pop();
            let Some(seq) = self.running.get(&id) else { continue };
            // A closed channel means the client left: free the slot (and do not preempt anyone
            // for a token nobody reads).
            if seq.tokens.is_closed() {
                self.remove(id);
                self.admit(Some(due), stats);
                continue;
            }
            if !self.make_room(id, due, stats) {
                // Preempted itself: the token is emitted after its next admission and prefill.
                continue;
            }
            let running = self.running.len();
            let Some(seq) = self.running.get_mut(&id) else { continue };
            let token = Token {
                index: seq.emitted,
                due,
                released: now,
                arrived: seq.arrived,
                admitted: seq.admitted,
                step_running: seq.step_running,
            };
            let alive = seq.tokens.send(token).is_ok();
            if alive {
                sent += 1;
                seq.emitted += 1;
                self.kv_used += 1;
                stats.tokens_generated.fetch_add(1, Ordering::Relaxed);
                if token.index == 0 {
                    stats.ttft.observe(now.saturating_duration_since(seq.arrived));
                }
            }
            if !alive || seq.emitted >= seq.max_tokens {
                if alive {
                    stats.successes.fetch_add(1, Ordering::Relaxed);
                }
                self.remove(id);
                self.admit(Some(due), stats);
            } else {
                seq.step_running = u32::try_from(running).unwrap_or(u32::MAX);
                self.due.push(Reverse((due + self.timing.decode_step(running), id)));
            }
        }
        sent
    }

    /// Publishes the gauges.
    fn publish(&self, stats: &EngineStats) {
        stats.running.store(self.running.len() as u64, Ordering::Relaxed);
        stats.waiting.store(self.waiting.len() as u64, Ordering::Relaxed);
        stats.kv_tokens_used.store(self.kv_used, Ordering::Relaxed);
    }
}

/// A one-shot monotonic `timerfd` registered with the runtime's reactor.
struct Timer {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl Timer {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd as _;
        // SAFETY: timerfd_create has no pointer arguments; a non-negative result is a new
        // descriptor that we own from here on.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd stays open and is the same descriptor for the AsyncFd's lifetime.
        let fd =
            unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, Interest::READABLE) }
                .map_err(std::io::Error::from)?;
        Ok(Self { fd })
    }

    /// Fires once, `after` from now (re-arming discards any earlier setting).
    fn arm(&self, after: Duration) {
        use std::os::fd::AsRawFd as _;
        let after = after.max(Duration::from_nanos(1)); // zero would disarm
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(after.subsec_nanos().cast_signed()),
            },
        };
        // SAFETY: a valid timerfd and a pointer to a local itimerspec; the old value is not asked.
        unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), 0, &raw const spec, std::ptr::null_mut());
        }
    }

    /// Waits until the timer has fired.
    async fn fired(&self) {
        use std::os::fd::AsRawFd as _;
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reading at most 8 bytes into a local 8-byte buffer.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return;
            }
            // Not fired (yet, or any more after re-arming): wait for the next readiness.
            guard.clear_ready();
        }
    }
}

async fn run(
    mut rx: UnboundedReceiver<Waiting>,
    timer: Timer,
    timing: Timing,
    stats: Arc<EngineStats>,
) {
    let mut s = Scheduler::new(timing);
    let mut released: Option<Instant> = None;
    loop {
        // Sleep until the next token is due (but at least a tick after the last release) or a
        // request arrives.
        let wake_at =
            s.due.peek().map(|&Reverse((due, _))| released.map_or(due, |r| due.max(r + TICK)));
        let now = Instant::now();
        match wake_at {
            Some(at) if at <= now => {
                // Due already: let the other tasks run first, then release.
                tokio::task::yield_now().await;
            }
            _ => {
                if let Some(at) = wake_at {
                    timer.arm(at - now);
                }
                tokio::select! {
                    biased;
                    () = timer.fired(), if wake_at.is_some() => {}
                    m = rx.recv() => match m {
                        Some(m) => s.waiting.push_back(m),
                        None => return,
                    },
                }
            }
        }
        while let Ok(m) = rx.try_recv() {
            s.waiting.push_back(m);
        }
        let now = Instant::now();
        if released.is_none_or(|r| now >= r + TICK) && s.emit_due(now, &stats) > 0 {
            released = Some(now);
        }
        s.admit(None, &stats);
        s.publish(&stats);
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
