//! Optional server-side timing probe, for the load benchmark: when enabled, every streamed token
//! is recorded with its model deadline, when the engine released it, and when its SSE
//! chunk was handed to hyper (which writes it to the socket in the same poll). Off unless
//! [`enable`] is called; then the cost when off is one atomic load per token.
//!
//! This tells the server's own lateness apart from what the client and the OS add.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::model::Token;

/// One streamed token as the server saw it.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// The request's sequence number (the `n` of its id `chatcmpl-mock-<n>`).
    pub stream: u64,
    /// 0-based token index.
    pub index: u32,
    /// The model's deadline for the token.
    pub due: Instant,
    /// When the engine released it.
    pub released: Instant,
    /// When its chunk was handed to hyper for writing.
    pub written: Instant,
}

static PROBE: OnceLock<Mutex<Vec<Record>>> = OnceLock::new();

/// Starts recording (for the rest of the process), with room for `capacity` records.
pub fn enable(capacity: usize) {
    let _ = PROBE.set(Mutex::new(Vec::with_capacity(capacity)));
}

/// Takes the records so far (empty when the probe is off).
pub fn take() -> Vec<Record> {
    PROBE
        .get()
        .map(|p| std::mem::take(&mut *p.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default()
}

pub(crate) fn record(stream: u64, token: Token) {
    if let Some(p) = PROBE.get() {
        let r = Record {
            stream,
            index: token.index,
            due: token.due,
            released: token.released,
            written: Instant::now(),
        };
        p.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}
