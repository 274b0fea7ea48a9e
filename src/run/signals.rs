//! Ctrl-C and SIGTERM: the first asks for a clean stop (the run loop sees the count change and
//! stops aiperf and the server gracefully); the second runs the `last_words` callback (which
//! records the interruption), kills every child process group at once and exits 130.

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

/// Starts watching SIGINT and SIGTERM, on a thread of its own (with a runtime of its own), and
/// returns once they are caught; the watch ends when the receiver and its clones are dropped.
/// The receiver counts signals. On the second, `last_words` runs
/// (e.g. to record the interruption), every tracked group is killed and the process exits 130.
///
/// Its own thread: the run stage's runtime is single-threaded (a run's end reaches it without
/// waking another thread), so while the run stage is in a synchronous step (a settle waiting
/// for the disk, an `nvidia-smi` sample) nothing of that runtime runs; the second Ctrl-C must
/// kill at once all the same.
pub fn watch(
    groups: Groups,
    last_words: impl Fn() + Send + Sync + 'static,
) -> watch::Receiver<usize> {
    let (tx, rx) = watch::channel(0usize);
    let (caught, is_caught) = std::sync::mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else {
            return;
        };
        rt.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return;
            };
            let _ = caught.send(());
            let mut count = 0usize;
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    // The batch is over (every receiver dropped): so is the watch.
                    () = tx.closed() => return,
                }
                count += 1;
                if count == 1 {
                    let _ = tx.send(count);
                } else {
                    last_words();
                    groups.kill_all();
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
            }
        });
    });
    // A Ctrl-C from here on is caught: without this wait, one that came before the thread got
    // going would kill sweeper by the default action. (Should the handlers fail to install,
    // the thread ends and Ctrl-C keeps its default action: sweeper dies, its guardian stops
    // what it ran.)
    if spawned.is_ok() {
        let _ = is_caught.recv();
    }
    rx
}

#[cfg(test)]
mod tests {
    /// The watch runs on a thread of its own: the caller needs no runtime, and a signal is
    /// counted while the caller's thread does nothing but block (as the run stage's
    /// single-threaded runtime does during a synchronous step).
    #[test]
    fn a_signal_is_counted_while_the_callers_thread_is_blocked() {
        let rx = super::watch(super::Groups::default(), || {});
        // SAFETY: raise only sends SIGINT to this thread; `watch` has installed its handler.
        unsafe {
            libc::raise(libc::SIGINT);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while *rx.borrow() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(*rx.borrow(), 1, "the first SIGINT was not counted");
    }
}
