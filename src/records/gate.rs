//! The gate that the writes of a thread which may be left behind pass through (the live
//! reports' worker): once closed, the thread can neither create nor rename a file any more,
//! and its temp files are gone, so nothing it finishes late replaces what was written since.
//!
//! The worker runs at idle priority (it must not take CPU from aiperf while it measures). On a
//! machine whose every CPU is busy it gets almost none, so the batch's end does not wait for it
//! as long as it would need: it closes its gate and renders from disk instead. A gated thread
//! holds the gate's lock only for a `create` or a `rename`, never while it writes, so whoever
//! closes the gate waits for at most one system call of it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// See the module's doc. Shared by the thread it gates and whoever may close it.
#[derive(Debug, Default)]
pub struct WriteGate(Mutex<GateState>);

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// Temp files created through the gate and not renamed or removed yet.
    temps: Vec<PathBuf>,
}

thread_local! {
    static GATE: RefCell<Option<Arc<WriteGate>>> = const { RefCell::new(None) };
}

impl WriteGate {
    /// From now on, every derived or atomic write of the calling thread passes `gate`.
    pub fn enter(gate: &Arc<WriteGate>) {
        GATE.with(|g| *g.borrow_mut() = Some(gate.clone()));
    }

    /// Closes the gate: the gated thread's writes fail from now on, and the temp files it is
    /// filling are removed.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        for t in s.temps.drain(..) {
            let _ = std::fs::remove_file(t);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn refused(path: &Path) -> std::io::Error {
        std::io::Error::other(format!(
            "`{}` was not written: the batch's end no longer waits for this thread",
            path.display()
        ))
    }

    /// Creates `tmp` unless the gate is closed.
    fn create(&self, tmp: &Path) -> std::io::Result<fs_err::File> {
        let mut s = self.lock();
        if s.closed {
            return Err(Self::refused(tmp));
        }
        let f = fs_err::File::create(tmp)?;
        s.temps.push(tmp.to_path_buf());
        Ok(f)
    }

    /// Renames `tmp` to `path` unless the gate is closed; else (or when the rename fails) the
    /// temp file is removed, unless the gate's closing already did.
    fn finish(&self, tmp: &Path, path: &Path, written: std::io::Result<()>) -> std::io::Result<()> {
        let mut s = self.lock();
        let Some(at) = s.temps.iter().position(|t| t == tmp) else {
            return Err(Self::refused(path));
        };
        s.temps.swap_remove(at);
        let renamed = written.and_then(|()| fs_err::rename(tmp, path));
        if renamed.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        renamed
    }
}

/// The calling thread's gate, if it has one.
fn current() -> Option<Arc<WriteGate>> {
    GATE.with(|g| g.borrow().clone())
}

/// Writes `path` whole or not at all: into a temp file beside it (`.<name>.tmp.<pid>`; through
/// a gate `.<name>.gated.tmp.<pid>`, so that a gated thread and the others never share one),
/// flushed to disk first when `sync`, then renamed over it. A failure leaves no temp file.
pub(super) fn replace_with(
    path: &Path,
    sync: bool,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let gate = current();
    let kind = if gate.is_some() { "gated.tmp" } else { "tmp" };
    let tmp = dir.join(format!(".{name}.{kind}.{}", std::process::id()));
    let fill_and_sync = |mut f: fs_err::File| -> std::io::Result<()> {
        fill(&mut f)?;
        if sync {
            f.sync_all()?;
        }
        Ok(())
    };
    if let Some(g) = gate {
        let f = g.create(&tmp)?;
        return g.finish(&tmp, path, fill_and_sync(f));
    }
    let written = fs_err::File::create(&tmp)
        .and_then(fill_and_sync)
        .and_then(|()| fs_err::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes `path` (a derived file found stale), unless the calling thread's gate is closed.
pub fn remove_derived(path: &Path) -> std::io::Result<()> {
    match current() {
        Some(g) => {
            let s = g.lock();
            if s.closed {
                return Err(WriteGate::refused(path));
            }
            std::fs::remove_file(path)
        }
        None => std::fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread whose gate was closed while it filled a file: the file is not replaced, its temp
    /// file is gone, and it can write nothing more; the other threads write as ever.
    #[test]
    fn a_closed_gate_drops_what_its_thread_finishes_late() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        std::fs::write(&path, "final").unwrap();
        let gate = Arc::new(WriteGate::default());
        let (filling, closed) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|s| {
            let t = s.spawn(|| {
                WriteGate::enter(&gate);
                let late = replace_with(&path, false, |w| {
                    w.write_all(b"stale")?;
                    filling.wait();
                    closed.wait();
                    w.write_all(b" and more")
                });
                let after = replace_with(&path, false, |w| w.write_all(b"later"));
                let removed = remove_derived(&path);
                (late, after, removed)
            });
            filling.wait();
            let temps = || {
                std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(".tmp."))
                    .collect::<Vec<_>>()
            };
            assert_eq!(temps(), vec![format!(".report.md.gated.tmp.{}", std::process::id())]);
            gate.close();
            assert!(temps().is_empty(), "{:?}", temps());
            closed.wait();
            let (late, after, removed) = t.join().unwrap();
            assert!(late.unwrap_err().to_string().contains("no longer waits"));
            assert!(after.is_err() && removed.is_err());
            assert!(temps().is_empty(), "{:?}", temps());
        });
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "final");
        replace_with(&path, false, |w| w.write_all(b"main")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "main");
    }
}
