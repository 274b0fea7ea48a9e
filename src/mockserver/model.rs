//! The serving model: prompt-token estimate, prefill and decode-step times, the FIFO admission
//! queue, and the engine thread that emits every running sequence's tokens on time.
//!
//! The engine runs on its own OS thread rather than on tokio timers: tokio's timer wheel has a
//! 1 ms resolution, which alone would add up to 1 ms of jitter to every chunk, while a thread
//! waiting on `recv_timeout` wakes within tens of microseconds. HTTP tasks submit sequences over
//! a channel and receive token indices over a per-sequence tokio channel.
//!
//! Waking a tokio task from a foreign thread costs a system call, so the engine does not do it
//! per token: it releases due tokens in ticks at least [`TICK`] apart, as one batch handed to a
//! dispatcher task inside the runtime, which forwards them to the sequences (cheap local
//! wake-ups). A token is therefore released up to one tick after its model time; the gap between
//! two tokens of a sequence is off by at most one tick either way, and never drifts because every
//! deadline is computed from the previous deadline, not from when it was released.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

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
    /// When the engine thread released it to the runtime.
    pub released: Instant,
}

/// Tokens released together: each sequence's channel and its token.
type Batch = Vec<(UnboundedSender<Token>, Token)>;

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
    Duration::from_secs_f64((v / 1000.0).clamp(0.0, 1.0e9))
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

/// Handle to the engine thread. The thread ends when the last handle is dropped.
#[derive(Debug)]
pub struct Engine {
    tx: mpsc::Sender<Submit>,
    stats: Arc<EngineStats>,
}

/// The engine thread is gone (it only ends when every handle is dropped, so this is a bug).
#[derive(Debug)]
pub struct EngineGone;

impl Engine {
    /// Starts the engine thread and its dispatcher task. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the OS refuses to create a thread.
    pub fn start(timing: Timing) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (batch_tx, mut batch_rx) = unbounded_channel::<Batch>();
        let stats = Arc::new(EngineStats::default());
        let thread_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("mock-engine".into())
            .spawn(move || run(&rx, &batch_tx, timing, &thread_stats))?;
        // Ends when the engine thread drops `batch_tx`.
        tokio::spawn(async move {
            while let Some(batch) = batch_rx.recv().await {
                for (tokens, token) in batch {
                    // A closed channel means the client left; the engine sees it next time.
                    let _ = tokens.send(token);
                }
            }
        });
        Ok(Self { tx, stats })
    }

    /// Queues a sequence. The receiver yields tokens with indices `0..max_tokens` at the model's times
    /// and then closes. Dropping the receiver cancels the sequence and frees its slot.
    ///
    /// # Errors
    /// When the engine thread has ended.
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
}

/// The engine state, owned by the engine thread.
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
    /// thread got round to it, so engine wake-up latency does not accumulate.
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
            self.running
                .insert(id, Running { tokens: s.tokens, max_tokens: s.max_tokens, emitted: 0 });
        }
    }

    /// Adds every token due at or before `now` to `batch`.
    fn emit_due(&mut self, now: Instant, batch: &mut Batch, stats: &EngineStats) {
        while let Some(&Reverse((due, id))) = self.due.peek() {
            if due > now {
                break;
            }
            self.due.pop();
            let Some(seq) = self.running.get_mut(&id) else { continue };
            let alive = !seq.tokens.is_closed();
            if alive {
                batch.push((seq.tokens.clone(), Token { index: seq.emitted, due, released: now }));
                seq.emitted += 1;
                stats.tokens_generated.fetch_add(1, Ordering::Relaxed);
            }
            if !alive || seq.emitted >= seq.max_tokens {
                self.running.remove(&id);
                self.admit(Some(due));
            } else {
                let step = self.timing.decode_step(self.running.len());
                self.due.push(Reverse((due + step, id)));
            }
        }
    }
}

fn run(
    rx: &mpsc::Receiver<Submit>,
    batches: &UnboundedSender<Batch>,
    timing: Timing,
    stats: &EngineStats,
) {
    let mut s = Scheduler {
        timing,
        waiting: VecDeque::new(),
        running: HashMap::new(),
        due: BinaryHeap::new(),
        next_id: 0,
    };
    let mut released = Instant::now();
    loop {
        // Sleep until the next token is due (but at least a tick after the last release) or a
        // request arrives.
        let received = match s.due.peek() {
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
            Some(&Reverse((due, _))) => {
                let due = due.max(released + TICK);
                let now = Instant::now();
                if due <= now {
                    None
                } else {
                    match rx.recv_timeout(due - now) {
                        Ok(m) => Some(m),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            }
        };
        if let Some(m) = received {
            s.waiting.push_back(m);
            while let Ok(m) = rx.try_recv() {
                s.waiting.push_back(m);
            }
        }
        let now = Instant::now();
        if now >= released + TICK {
            let mut batch = Vec::new();
            s.emit_due(now, &mut batch, stats);
            if !batch.is_empty() {
                released = now;
                if batches.send(batch).is_err() {
                    return; // the runtime is gone
                }
            }
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
