//! Ctrl-C and SIGTERM: the first asks for a clean stop (the run loop sees the count change and
//! stops aiperf and the server gracefully); the second runs the `last_words` callback (which
//! records the interruption), kills every child process group at once and exits 130.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::process;
use crate::util::exit::EXIT_INTERRUPTED;

/// Process groups alive right now (servers, aiperf), killed by the second Ctrl-C.
#[derive(Debug, Clone, Default)]
pub struct Groups(Arc<Mutex<Vec<i32>>>);

impl Groups {
    pub fn track(&self, pgid: i32) {
        if pgid > 0
            && let Ok(mut v) = self.0.lock()
        {
            v.push(pgid);
        }
    }

    pub fn untrack(&self, pgid: i32) {
        if let Ok(mut v) = self.0.lock() {
            v.retain(|p| *p != pgid);
        }
    }

    fn kill_all(&self) {
        for pg in self.0.lock().map(|v| v.clone()).unwrap_or_default() {
            process::kill_group_now(pg);
        }
    }
}

/// Starts watching SIGINT and SIGTERM (inside a tokio runtime). The receiver counts signals.
/// On the second, `last_words` runs (e.g. to record the interruption), every tracked group is
/// killed and the process exits 130.
pub fn watch(
    groups: Groups,
    last_words: impl Fn() + Send + Sync + 'static,
) -> watch::Receiver<usize> {
    let (tx, rx) = watch::channel(0usize);
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                let _ = tx.send(n);
            } else {
                last_words();
                groups.kill_all();
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
    rx
}
