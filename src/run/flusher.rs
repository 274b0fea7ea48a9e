//! Flushing the batch's records to disk on a thread of their own, so that no run waits for the
//! disk: each record is put in place whole by the run stage (a crash of sweeper never
//! loses it), then handed here to be fsynced (so a crash of the machine does not either).
//!
//! A flush costs a disk round trip (0.1-0.3 ms on this VM's virtio disk, far more on a busy
//! or network one). Made by the run stage between runs, it was on the path from one aiperf's
//! exit to the next one's start; here it overlaps the next run. Records are let gather for
//! [`GATHER`] after the first, then flushed one after the other: a flush writes back the
//! file's inode table block, which a new file's creation then waits for, so flushes spread
//! over a run stalled the run's own file creations (aiperf's exports) once each; gathered,
//! far fewer times (paired 1,000-run rounds with a stub aiperf: ~2% of the batch's time).
//! Only a round's first record wakes the thread: woken by each one, it preempted the run
//! stage on its CPU once per run, between two runs (traced over 1,000 runs: 777 times; none
//! since, though the batch's time did not change measurably on the development VM).
//! [`Flusher::wait`] is the barrier for those who need every record on disk, answered at
//! once (what gathered is flushed first): the manifest's durable writes, a server's start
//! (which may take minutes), the batch's end.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long records gather after the first before they are flushed (see the module's doc): a
/// record reaches the disk this much later at most, plus the flushes before it.
pub const GATHER: Duration = Duration::from_millis(200);

/// The first flush that failed since the last [`Flusher::take_error`].
type FirstError = Arc<Mutex<Option<(PathBuf, std::io::Error)>>>;

enum Job {
    Flush(PathBuf),
    /// Answered once every job queued before it is done.
    Barrier(mpsc::SyncSender<()>),
}

/// What the run stage and the flushing thread share: the jobs not yet taken, and whether a
/// barrier is among them or the [`Flusher`] went (either ends a round's gathering at once).
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    barrier: bool,
    closed: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The flushing thread (started with the first record) and its first error.
#[derive(Default)]
pub struct Flusher {
    queue: Option<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    error: FirstError,
}

/// The queue, usable whatever a thread that panicked holding it left.
fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Flusher {
    /// Queues `path` to be flushed to disk. Only a round's first record wakes the thread (the
    /// others wait in the queue: a wake-up per record preempted the run stage on its CPU
    /// between two runs). Without a thread (none could be started), it is flushed here and now.
    pub fn push(&mut self, path: PathBuf) {
        if self.queue.is_none() {
            self.start();
        }
        let Some(shared) = self.live_queue() else { return flush(path, &self.error) };
        let mut q = lock(&shared.0);
        let first = q.jobs.is_empty();
        q.jobs.push(Job::Flush(path));
        drop(q);
        if first {
            shared.1.notify_one();
        }
    }

    /// Returns once every path pushed so far is flushed (or failed to be).
    pub fn wait(&mut self) {
        let Some(shared) = self.live_queue() else { return };
        let (tx, rx) = mpsc::sync_channel(1);
        let mut q = lock(&shared.0);
        q.jobs.push(Job::Barrier(tx));
        q.barrier = true;
        drop(q);
        shared.1.notify_one();
        let _ = rx.recv();
    }

    /// The first flush that failed since the last call, if one did.
    pub fn take_error(&self) -> Option<(PathBuf, std::io::Error)> {
        self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// The queue, while its thread is there to take from it. A thread that is gone (it returns
    /// only when the `Flusher` goes: short of a panic, never) has what it left flushed here, and
    /// nothing is queued for it again: a barrier queued for no one would never be answered.
    fn live_queue(&mut self) -> Option<&Shared> {
        if self.thread.as_ref().is_some_and(std::thread::JoinHandle::is_finished) {
            self.thread = None;
            if let Some(shared) = self.queue.take() {
                flush_jobs(std::mem::take(&mut lock(&shared.0).jobs), &self.error);
            }
        }
        self.queue.as_ref()
    }

    fn start(&mut self) {
        let shared = Shared::default();
        let (theirs, error) = (shared.clone(), self.error.clone());
        let spawned = std::thread::Builder::new()
            .name("flush-records".into())
            .spawn(move || flush_in_rounds(&theirs, &error));
        if let Ok(thread) = spawned {
            self.queue = Some(shared);
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
        if let Some(shared) = self.queue.take() {
            lock(&shared.0).closed = true;
            shared.1.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The flushing thread: each round gathers what is queued within [`GATHER`] of its first job
/// (woken once for it, and again only by a barrier or the end), then flushes it in order, a
/// barrier answered once what was queued before it is flushed. It ends (all flushed) when the
/// [`Flusher`] goes.
fn flush_in_rounds(shared: &Shared, error: &FirstError) {
    let (queue, woken) = (&shared.0, &shared.1);
    loop {
        let mut q = lock(queue);
        while q.jobs.is_empty() && !q.closed {
            q = woken.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if q.jobs.is_empty() {
            return;
        }
        let deadline = Instant::now() + GATHER;
        while !q.barrier && !q.closed {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            q = woken.wait_timeout(q, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        let jobs = std::mem::take(&mut q.jobs);
        q.barrier = false;
        drop(q);
        flush_jobs(jobs, error);
    }
}

/// Flushes `jobs` in order; a barrier is answered once what was queued before it is flushed.
fn flush_jobs(jobs: Vec<Job>, error: &FirstError) {
    for job in jobs {
        match job {
            Job::Flush(path) => flush(path, error),
            Job::Barrier(done) => {
                let _ = done.send(());
            }
        }
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

    /// Should the flushing thread be gone (it would take a panic), records are flushed where
    /// they are pushed and a barrier returns: with a queue nobody takes from, it waited forever.
    #[test]
    fn a_flusher_whose_thread_is_gone_flushes_and_returns() {
        let dir = tempfile::tempdir().unwrap();
        let gone = std::thread::spawn(|| ());
        while !gone.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut f = Flusher {
            queue: Some(Shared::default()),
            thread: Some(gone),
            error: FirstError::default(),
        };
        std::fs::write(dir.path().join("a-file"), "").unwrap();
        let bad = dir.path().join("a-file").join("x");
        let (done, waited) = mpsc::channel();
        let watched = std::thread::spawn(move || {
            f.push(bad);
            f.wait();
            let _ = done.send(f.take_error());
        });
        let failed =
            waited.recv_timeout(Duration::from_secs(30)).expect("the barrier never returned");
        let (path, _) = failed.expect("the record was not flushed (its failure not kept)");
        assert_eq!(path, dir.path().join("a-file").join("x"));
        watched.join().unwrap();
    }

    #[test]
    fn waiting_without_anything_pushed_returns_at_once() {
        let mut f = Flusher::default();
        f.wait();
        assert!(f.take_error().is_none());
        assert!(f.thread.is_none(), "no thread until the first record");
    }
}
