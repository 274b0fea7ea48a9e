//! The serving model: prompt-token estimate, prefill and decode-step times, the FIFO admission
//! queue, and the engine task that emits every running sequence's tokens on time.
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
use std::collections::{BinaryHeap, HashMap, VecDeque};
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
    /// which a slot became free.
    pub admitted: Instant,
    /// The running-sequence count `R` of the decode step that made this token due
    /// (`decode_base_ms + decode_per_seq_ms * R` after the previous token); 0 for the first
    /// token, which is due a prefill after admission.
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

/// Live counters of the engine, read by `/metrics`.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Sequences admitted and not finished (prefilling or decoding).
    pub running: AtomicU64,
    /// Sequences waiting in the FIFO queue.
    pub waiting: AtomicU64,
    /// Tokens emitted since start.
    pub tokens_generated: AtomicU64,
}

/// One request submitted to the engine.
struct Submit {
    prompt_tokens: u32,
    max_tokens: u32,
    arrived: Instant,
    tokens: UnboundedSender<Token>,
}

/// Handle to the engine task. The task ends when the last handle is dropped.
#[derive(Debug)]
pub struct Engine {
    tx: UnboundedSender<Submit>,
    stats: Arc<EngineStats>,
}

/// The engine task is gone (it only ends when every handle is dropped, so this is a bug).
#[derive(Debug)]
pub struct EngineGone;

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
        Ok(Self { tx, stats })
    }

    /// Queues a sequence. The receiver yields tokens with indices `0..max_tokens` at the model's times
    /// and then closes. Dropping the receiver cancels the sequence and frees its slot.
    ///
    /// # Errors
    /// When the engine task has ended.
    pub fn submit(
        &self,
        prompt_tokens: u32,
        max_tokens: u32,
    ) -> Result<UnboundedReceiver<Token>, EngineGone> {
        let (tokens, rx) = unbounded_channel();
        let submit = Submit { prompt_tokens, max_tokens, arrived: Instant::now(), tokens };
        self.tx.send(submit).map_err(|_| EngineGone)?;
        Ok(rx)
    }

    /// The engine's live counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}

struct Running {
    tokens: UnboundedSender<Token>,
    max_tokens: u32,
    emitted: u32,
    arrived: Instant,
    admitted: Instant,
    /// `R` of the step that made the next token due (0 before the first token).
    step_running: u32,
}

/// The engine state, owned by the engine task.
struct Scheduler {
    timing: Timing,
    waiting: VecDeque<Submit>,
    running: HashMap<u64, Running>,
    /// One entry per running sequence: when its next token is due.
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u64,
}

impl Scheduler {
    /// Admits queued sequences into free slots. A sequence starts at the later of its arrival
    /// and `freed_at` (the model time at which the slot became free), not at the moment the
    /// engine got round to it, so engine wake-up latency does not accumulate.
    fn admit(&mut self, freed_at: Option<Instant>) {
        while self.running.len() < self.timing.max_num_seqs {
            let Some(s) = self.waiting.pop_front() else { break };
            let start = freed_at.map_or(s.arrived, |f| f.max(s.arrived));
            let id = self.next_id;
            self.next_id += 1;
            if s.max_tokens == 0 {
                continue;
            }
            self.due.push(Reverse((start + self.timing.prefill(s.prompt_tokens), id)));
            self.running.insert(
                id,
                Running {
                    tokens: s.tokens,
                    max_tokens: s.max_tokens,
                    emitted: 0,
                    arrived: s.arrived,
                    admitted: start,
                    step_running: 0,
                },
            );
        }
    }

    /// Sends every token due at or before `now` to its stream; returns how many were sent.
    fn emit_due(&mut self, now: Instant, stats: &EngineStats) -> usize {
        let mut sent = 0;
        while let Some(&Reverse((due, id))) = self.due.peek() {
            if due > now {
                break;
            }
            self.due.pop();
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
            // A closed channel means the client left: free the slot.
            let alive = seq.tokens.send(token).is_ok();
            if alive {
                sent += 1;
                seq.emitted += 1;
                stats.tokens_generated.fetch_add(1, Ordering::Relaxed);
            }
            if !alive || seq.emitted >= seq.max_tokens {
                self.running.remove(&id);
                self.admit(Some(due));
            } else {
                seq.step_running = u32::try_from(running).unwrap_or(u32::MAX);
                self.due.push(Reverse((due + self.timing.decode_step(running), id)));
            }
        }
        sent
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
    mut rx: UnboundedReceiver<Submit>,
    timer: Timer,
    timing: Timing,
    stats: Arc<EngineStats>,
) {
    let mut s = Scheduler {
        timing,
        waiting: VecDeque::new(),
        running: HashMap::new(),
        due: BinaryHeap::new(),
        next_id: 0,
    };
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
        s.admit(None);
        stats.running.store(s.running.len() as u64, Ordering::Relaxed);
        stats.waiting.store(s.waiting.len() as u64, Ordering::Relaxed);
    }
}
#[cfg(test)]
mod tests {
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
        };
        assert_eq!(t.prefill(10), Duration::from_millis(15));
        assert_eq!(t.decode_step(3), Duration::from_millis(8));
    }
}
