//! Inodes made ahead of need: a run's records and the next run's directory, made while a run
//! runs and put in place when it ends or the next starts, so that no file system's inode
//! allocation sits between two runs.
//!
//! Creating a file or a directory allocates an inode. On ext4 without a journal (this
//! development VM's root) each allocation scans the inodes deleted in the last 30 s and costs
//! 0.1-0.15 ms; a run's start and end made three (its directory, `run_metadata.json`,
//! `process_result.json`), about half of the run stage's time between two runs. The files are
//! anonymous (`O_TMPFILE`) until written whole and linked at their name (`linkat` by
//! descriptor, or of `/proc/self/fd/N` where that is refused; ~0.02 ms): a reader never sees them half-written, as with a renamed temp
//! file, and one that sweeper's death leaves is gone with it (the kernel frees it). The spare
//! directory is empty and named as a temp file (`.next.tmp.<pid>`); renamed into place as the
//! next run's, removed at the batch's end, or by `--resume` after `kill -9`.
//!
//! Where any step is not supported (no `O_TMPFILE`, no `/proc`, another file system) the
//! record is written as before (a temp file renamed), and the reserve is not used again.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// How many anonymous files are kept ready: a run's end and the next one's start take one each.
const FILES: usize = 2;

/// What is ready, shared with the thread that makes it.
#[derive(Debug, Default)]
struct Stock {
    files: Vec<File>,
    spare_dir: Option<PathBuf>,
    /// A step failed other than for a reason of one path: the reserve is not used again.
    off: bool,
    /// The thread is asked to make what is missing.
    wanted: bool,
    /// The reserve went: the thread ends.
    closed: bool,
}

type Shared = Arc<(Mutex<Stock>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Stock> {
    shared.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The batch's reserve of anonymous files and one spare directory (see the module's doc),
/// made by a thread of its own: asked while a run runs, it makes them on another CPU than the
/// one aiperf's start (its exec) needs.
#[derive(Debug)]
pub struct Reserve {
    /// Where the inodes are made (the batch directory): anywhere on the run directories' file
    /// system will do.
    dir: PathBuf,
    shared: Shared,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reserve {
    /// An empty reserve, made in `dir` (the batch directory) once [`Reserve::refill`] asks.
    pub fn new(dir: &Path) -> Self {
        Reserve { dir: dir.to_path_buf(), shared: Shared::default(), thread: None }
    }

    /// Asks for what is missing to be made (while a run runs: it takes 0.3-0.5 ms on the VM).
    pub fn refill(&mut self) {
        {
            let mut stock = lock(&self.shared);
            if stock.off || (stock.files.len() >= FILES && stock.spare_dir.is_some()) {
                return;
            }
            stock.wanted = true;
        }
        if self.thread.is_none() {
            let (dir, shared) = (self.dir.clone(), self.shared.clone());
            match std::thread::Builder::new()
                .name("reserve".into())
                .spawn(move || make(&dir, &shared))
            {
                Ok(t) => self.thread = Some(t),
                Err(_) => lock(&self.shared).off = true,
            }
        }
        self.shared.1.notify_one();
    }

    /// Creates the directory `path` (and its parents): the spare directory renamed there when
    /// there is one, else made now. An empty directory at `path` is replaced.
    pub fn create_dir_all(&mut self, path: &Path) -> std::io::Result<()> {
        let spare = lock(&self.shared).spare_dir.take();
        if let Some(spare) = spare {
            let mut moved = std::fs::rename(&spare, path);
            if moved.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
                && let Some(parent) = path.parent()
                && std::fs::create_dir_all(parent).is_ok()
            {
                moved = std::fs::rename(&spare, path);
            }
            if moved.is_ok() {
                return Ok(());
            }
            let mut stock = lock(&self.shared);
            if stock.closed || stock.spare_dir.is_some() {
                let _ = std::fs::remove_dir(&spare);
            } else {
                stock.spare_dir = Some(spare);
            }
        }
        std::fs::create_dir_all(path)
    }

    /// Writes the new file `path` whole with what `fill` writes: into an anonymous file of the
    /// reserve, linked at `path` once complete. `Ok(false)`: nothing was written (no file in
    /// reserve, or `path` exists): the caller writes it the usual way.
    pub fn write_new(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        let file = lock(&self.shared).files.pop();
        let Some(mut f) = file else { return Ok(false) };
        fill(&mut f)?;
        match link(&f, path) {
            Ok(()) => Ok(true),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    lock(&self.shared).off = true;
                }
                Ok(false)
            }
        }
    }

    /// Gives back what is left and ends the thread: the batch ended.
    pub fn release(&mut self) {
        {
            let mut stock = lock(&self.shared);
            stock.closed = true;
            stock.off = true;
        }
        self.shared.1.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut stock = lock(&self.shared);
        stock.files.clear();
        if let Some(d) = stock.spare_dir.take() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        self.release();
    }
}

/// The reserve's thread: makes what is missing each time it is asked, until closed.
fn make(dir: &Path, shared: &Shared) {
    let mut stock = lock(shared);
    loop {
        while !stock.wanted && !stock.closed {
            stock = shared.1.wait(stock).unwrap_or_else(PoisonError::into_inner);
        }
        if stock.closed {
            return;
        }
        stock.wanted = false;
        let (files, dir_missing) =
            (FILES.saturating_sub(stock.files.len()), stock.spare_dir.is_none());
        drop(stock);
        let mut made = Vec::with_capacity(files);
        let mut failed = false;
        for _ in 0..files {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o666)
                .open(dir)
            {
                Ok(f) => made.push(f),
                Err(_) => failed = true,
            }
        }
        let spare = dir.join(format!(".next.tmp.{}", std::process::id()));
        let spare = (dir_missing && !failed)
            .then(|| std::fs::create_dir(&spare).map(|()| spare))
            .transpose();
        stock = lock(shared);
        stock.files.extend(made);
        match spare {
            Ok(Some(d)) if !stock.closed => stock.spare_dir = Some(d),
            Ok(Some(d)) => drop(std::fs::remove_dir(d)),
            Ok(None) => {}
            Err(_) => failed = true,
        }
        stock.off |= failed;
    }
}

/// Set once linking by descriptor (`AT_EMPTY_PATH`: root, or Linux 6.10 and later for the
/// file's opener) was refused: [`link`] names the file `/proc/self/fd/N` from then on.
static BY_PROC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Links the anonymous file `f` at `path` (which must not exist).
fn link(f: &File, path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::Ordering;
    let to = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    if !BY_PROC.load(Ordering::Relaxed) {
        // SAFETY: linkat with an open descriptor, an empty path and a NUL-terminated path.
        let r = unsafe {
            libc::linkat(
                f.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        // Unprivileged before Linux 6.10: ENOENT (EPERM on some kernels).
        if !matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EPERM)) {
            return Err(e);
        }
        BY_PROC.store(true, Ordering::Relaxed);
    }
    let from = std::ffi::CString::new(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
    // SAFETY: linkat with two NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until the reserve's thread has made everything, or given up.
    fn made(r: &Reserve) -> bool {
        for _ in 0..2500 {
            {
                let s = lock(&r.shared);
                if s.off {
                    return false;
                }
                if s.files.len() >= FILES && s.spare_dir.is_some() {
                    return true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the reserve was neither made nor given up");
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn records_and_run_directories_come_whole_from_the_reserve_and_nothing_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        let mut r = Reserve::new(tmp.path());
        r.refill();
        assert!(made(&r));
        let spare = lock(&r.shared).spare_dir.clone().unwrap();
        assert_eq!(names(tmp.path()), [format!(".next.tmp.{}", std::process::id())]);
        // The spare directory becomes the run's, its missing parent made (interleaved repeats).
        let run = tmp.path().join("point").join("repeat_1");
        r.create_dir_all(&run).unwrap();
        assert!(run.is_dir() && !spare.exists());
        let meta = run.join("run_metadata.json");
        assert!(r.write_new(&meta, |w| w.write_all(b"{\"a\": 1}\n")).unwrap());
        assert_eq!(std::fs::read(&meta).unwrap(), b"{\"a\": 1}\n");
        // An existing file is left as it is, for the caller to write the usual way.
        assert!(!r.write_new(&meta, |w| w.write_all(b"other")).unwrap());
        assert_eq!(std::fs::read(&meta).unwrap(), b"{\"a\": 1}\n");
        // What failed to be written is not linked.
        r.refill();
        assert!(made(&r));
        let failed = r.write_new(&run.join("process_result.json"), |w| {
            w.write_all(b"{")?;
            Err(std::io::Error::other("full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "full");
        assert_eq!(names(&run), ["run_metadata.json"]);
        // Given back: the spare directory goes, nothing more is handed out.
        r.release();
        assert_eq!(names(tmp.path()), ["point"]);
        assert!(!r.write_new(&run.join("x"), |w| w.write_all(b"x")).unwrap());
        let other = tmp.path().join("other");
        r.create_dir_all(&other).unwrap();
        assert!(other.is_dir());
    }

    /// The way an unprivileged user links on kernels before 6.10 (the tests run as root, where
    /// linking by descriptor works): by `/proc/self/fd/N`. Either way gives the same file.
    #[test]
    fn a_file_is_linked_by_its_proc_path_where_linking_by_descriptor_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        BY_PROC.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(tmp.path())
            .unwrap();
        f.write_all(b"whole").unwrap();
        let path = tmp.path().join("process_result.json");
        link(&f, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        assert_eq!(link(&f, &path).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn an_empty_directory_in_the_way_is_replaced_and_a_full_one_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut r = Reserve::new(tmp.path());
        let (empty, full) = (tmp.path().join("empty"), tmp.path().join("full"));
        std::fs::create_dir(&empty).unwrap();
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("kept"), "x").unwrap();
        r.refill();
        assert!(made(&r));
        r.create_dir_all(&full).unwrap();
        assert_eq!(names(&full), ["kept"]);
        // The spare directory was kept for the next one.
        r.create_dir_all(&empty).unwrap();
        assert!(empty.is_dir());
        assert_eq!(names(tmp.path()), ["empty", "full"]);
    }

    #[test]
    fn where_the_reserve_cannot_be_made_records_are_left_to_the_usual_write() {
        let tmp = tempfile::tempdir().unwrap();
        let mut r = Reserve::new(&tmp.path().join("missing"));
        r.refill();
        assert!(!made(&r));
        let dir = tmp.path().join("a").join("b");
        r.create_dir_all(&dir).unwrap();
        assert!(!r.write_new(&dir.join("f"), |w| w.write_all(b"x")).unwrap());
        assert_eq!(names(&dir), Vec::<String>::new());
        // Asked again, it does not try again.
        r.refill();
        assert!(r.thread.is_some() && lock(&r.shared).off);
    }
}
