//! Flushing the batch's records to disk on a thread of their own, so that no run waits for the
//! disk: each record is renamed into place whole by the run stage (a crash of sweeper never
//! loses it), then handed here to be fsynced (so a crash of the machine does not either).
//!
//! A flush costs a disk round trip (0.1-0.3 ms on this VM's virtio disk, far more on a busy
//! or network one). Made by the run stage between runs, it was on the path from one aiperf's
//! exit to the next one's start; here it overlaps the next run. Records are let gather for
//! [`GATHER`] after the first, then flushed one after the other: a flush writes back the
//! file's inode table block, which a new file's creation then waits for, so flushes spread
//! over a run stalled the run's own file creations (aiperf's exports) once each; gathered,
//! far fewer times (paired 1,000-run rounds with a stub aiperf: ~2% of the batch's time).
//! [`Flusher::wait`] is the barrier for those who need every record on disk, answered at
//! once (what gathered is flushed first): the manifest's durable writes, a server's start
//! (which may take minutes), the batch's end.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long records gather after the first before they are flushed (see the module's doc): a
/// record reaches the disk this much later at most, plus the flushes before it.
pub const GATHER: Duration = Duration::from_millis(200);

/// The first flush that failed since the last [`Flusher::take_error`].
type FirstError = Arc<Mutex<Option<(PathBuf, std::io::Error)>>>;

enum Job {
    Flush(PathBuf),
    /// Answered once every job sent before it is done.
    Barrier(mpsc::SyncSender<()>),
}

/// The flushing thread (started with the first record) and its first error.
#[derive(Default)]
pub struct Flusher {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    error: FirstError,
}

impl Flusher {
    /// Queues `path` to be flushed to disk. Without a thread (none could be started), it is
    /// flushed here and now.
    pub fn push(&mut self, path: PathBuf) {
        if self.jobs.is_none() {
            self.start();
        }
        let sent =
            self.jobs.as_ref().is_some_and(|jobs| jobs.send(Job::Flush(path.clone())).is_ok());
        if !sent {
            flush(path, &self.error);
        }
    }

    /// Returns once every path pushed so far is flushed (or failed to be).
    pub fn wait(&mut self) {
        let Some(jobs) = &self.jobs else { return };
        let (tx, rx) = mpsc::sync_channel(1);
        if jobs.send(Job::Barrier(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// The first flush that failed since the last call, if one did.
    pub fn take_error(&self) -> Option<(PathBuf, std::io::Error)> {
        self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn start(&mut self) {
        let (tx, rx) = mpsc::channel::<Job>();
        let error = self.error.clone();
        let spawned = std::thread::Builder::new()
            .name("flush-records".into())
            .spawn(move || flush_in_rounds(&rx, &error));
        if let Ok(thread) = spawned {
            self.jobs = Some(tx);
            self.thread = Some(thread);
        }
    }
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher").field("running", &self.thread.is_some()).finish()
    }
}

impl Drop for Flusher {
    /// What was pushed is flushed before the flusher goes.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The flushing thread: each round gathers what comes within [`GATHER`] of its first job,
/// then flushes it; a barrier flushes what gathered before it is answered. It ends (all
/// flushed) when the [`Flusher`] goes.
fn flush_in_rounds(jobs: &mpsc::Receiver<Job>, error: &FirstError) {
    let mut gathered = Vec::new();
    while let Ok(first) = jobs.recv() {
        let deadline = Instant::now() + GATHER;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Flush(path) => gathered.push(path),
                Job::Barrier(done) => {
                    gathered.drain(..).for_each(|p| flush(p, error));
                    let _ = done.send(());
                }
            }
            next = deadline
                .checked_duration_since(Instant::now())
                .and_then(|left| jobs.recv_timeout(left).ok());
        }
        gathered.drain(..).for_each(|p| flush(p, error));
    }
}

/// fsyncs `path`; a file removed since (a run directory cleared for a new run) has nothing
/// left to lose. The first other failure is kept.
fn flush(path: PathBuf, error: &FirstError) {
    match std::fs::File::open(&path).and_then(|f| f.sync_all()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let mut first = error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert((path, e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_files_are_flushed_by_the_barrier_and_failures_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Flusher::default();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{}").unwrap();
        f.push(a);
        // Gone before its flush: nothing to lose, no error.
        f.push(dir.path().join("removed.json"));
        f.wait();
        assert!(f.take_error().is_none());
        // A path that cannot be opened for another reason (a component is a file) is reported.
        let bad = dir.path().join("a.json").join("x");
        f.push(bad.clone());
        f.wait();
        let (path, e) = f.take_error().expect("the failed flush is kept");
        assert_eq!(path, bad);
        assert_ne!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        assert!(f.take_error().is_none(), "taken once");
    }

    /// What is pushed and never waited for is flushed when its round ends (within about
    /// [`GATHER`]), not only at the next barrier.
    #[test]
    fn a_round_ends_without_a_barrier() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Flusher::default();
        // A component is a file: it cannot be opened, and that is an error (not a removal).
        std::fs::write(dir.path().join("a-file"), "").unwrap();
        f.push(dir.path().join("a-file").join("x"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut failed = None;
        while failed.is_none() && Instant::now() < deadline {
            std::thread::sleep(GATHER);
            failed = f.take_error();
        }
        let (path, _) = failed.expect("the round was never flushed");
        assert_eq!(path, dir.path().join("a-file").join("x"));
    }

    #[test]
    fn waiting_without_anything_pushed_returns_at_once() {
        let mut f = Flusher::default();
        f.wait();
        assert!(f.take_error().is_none());
        assert!(f.thread.is_none(), "no thread until the first record");
    }
}
