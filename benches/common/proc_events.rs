//! The kernel's process events (the netlink process connector: fork, exec, exit, each with the
//! kernel's own timestamp), for the runner bench to tell a runner's own time from its stubs'.
//!
//! Needs `CAP_NET_ADMIN` (root); [`Listener::start`] returns `None` without it. Events from
//! every process of the machine arrive; [`Listener::take`] hands over those recorded so far,
//! and [`stub_lives`] picks out one runner's stub processes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
/// `struct nlmsghdr` and `struct cn_msg`, before the `struct proc_event`.
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = 20;

/// One process event: a new process (tgid) and its parent's; a process's exec or exit, at the
/// kernel's `CLOCK_MONOTONIC` nanoseconds.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    Fork { parent: i32, child: i32 },
    Exec { pid: i32, ns: u64 },
    Exit { pid: i32, ns: u64 },
}

/// Records the machine's process events on a thread of its own.
pub struct Listener {
    events: Arc<Mutex<Vec<Event>>>,
    /// Set when the kernel dropped events (the socket's buffer overflowed): figures from such a
    /// window are not to be trusted.
    pub lost: Arc<AtomicBool>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

impl Listener {
    /// Subscribes to the process connector; `None` when the kernel refuses (no `CAP_NET_ADMIN`,
    /// no connector).
    pub fn start() -> Option<Listener> {
        // SAFETY: plain socket calls on a descriptor this function owns; every buffer passed
        // is sized as the kernel reads or writes it.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM, NETLINK_CONNECTOR) };
        if fd < 0 {
            return None;
        }
        let size: libc::c_int = 16 << 20;
        unsafe {
            // As root the buffer may exceed rmem_max: a 1,000-run batch makes ~10,000 events.
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const size).cast(),
                size_of::<libc::c_int>() as u32,
            );
        }
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = CN_IDX_PROC;
        addr.nl_pid = 0;
        let bound = unsafe {
            libc::bind(fd, (&raw const addr).cast(), size_of::<libc::sockaddr_nl>() as u32)
        };
        // The subscription: nlmsghdr, cn_msg { id {idx, val}, seq, ack, len, flags }, the op.
        let mut msg = [0u8; NLMSG_HDR + CN_MSG + 4];
        let total = msg.len() as u32;
        msg[0..4].copy_from_slice(&total.to_ne_bytes());
        msg[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
        msg[12..16].copy_from_slice(&std::process::id().to_ne_bytes());
        msg[16..20].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg[20..24].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg[32..34].copy_from_slice(&4u16.to_ne_bytes());
        msg[36..40].copy_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
        let sent = unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) };
        if bound < 0 || sent < 0 {
            unsafe { libc::close(fd) };
            return None;
        }
        let events = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
        let lost = Arc::new(AtomicBool::new(false));
        let (ev, lo) = (events.clone(), lost.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                        lo.store(true, Ordering::SeqCst);
                        continue;
                    }
                    return;
                }
                let b = &buf[..n as usize];
                let mut at = 0;
                while at + NLMSG_HDR <= b.len() {
                    let len = u32_at(b, at) as usize;
                    if len < NLMSG_HDR || at + len > b.len() {
                        break;
                    }
                    if let Some(e) = parse(&b[at + NLMSG_HDR..at + len]) {
                        ev.lock().unwrap().push(e);
                    }
                    at += (len + 3) & !3;
                }
            }
        });
        Some(Listener { events, lost })
    }

    /// The events recorded so far (and forgets them).
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    /// Waits (up to a second) until the exit of `pid` has been recorded: the kernel queues it
    /// before its parent's `wait4` returns, but this thread may not have read it yet.
    pub fn settle(&self, pid: i32) {
        for _ in 0..1000 {
            if self
                .events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, Event::Exit { pid: p, .. } if *p == pid))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// A `struct cn_msg` with its `struct proc_event`: { what u32, cpu u32, timestamp_ns u64,
/// union } (fork: parent pid, tgid, child pid, tgid; exec: pid, tgid; exit: pid, tgid, ...).
fn parse(cn: &[u8]) -> Option<Event> {
    let ev = cn.get(CN_MSG..)?;
    if ev.len() < 16 + 16 {
        return None;
    }
    let (what, ns) = (u32_at(ev, 0), u64_at(ev, 8));
    let u = &ev[16..];
    match what {
        PROC_EVENT_FORK => {
            let (child_pid, child_tgid) = (i32_at(u, 8), i32_at(u, 12));
            // A new thread is not a new process.
            (child_pid == child_tgid)
                .then(|| Event::Fork { parent: i32_at(u, 4), child: child_tgid })
        }
        PROC_EVENT_EXEC => Some(Event::Exec { pid: i32_at(u, 4), ns }),
        PROC_EVENT_EXIT => {
            let (pid, tgid) = (i32_at(u, 0), i32_at(u, 4));
            (pid == tgid).then_some(Event::Exit { pid: tgid, ns })
        }
        _ => None,
    }
}

/// The lives (exec to exit, seconds) of `runner`'s stub processes among `events`: the
/// runner's descendants that exec'd and whose children exec'd programs that start none (the
/// `sh` stub and its `cp`). What else a runner starts (sweeper's guardian and its `--version`
/// check of the stub) is its own time.
pub fn stub_lives(events: &[Event], runner: i32) -> Vec<f64> {
    let mut parent: HashMap<i32, i32> = HashMap::new();
    let (mut exec, mut exit): (HashMap<i32, u64>, HashMap<i32, u64>) = Default::default();
    for e in events {
        match *e {
            Event::Fork { parent: p, child } => {
                parent.insert(child, p);
            }
            Event::Exec { pid, ns } => {
                exec.insert(pid, ns);
            }
            Event::Exit { pid, ns } => {
                exit.insert(pid, ns);
            }
        }
    }
    let descends = |mut p: i32| {
        while let Some(&up) = parent.get(&p) {
            if up == runner {
                return true;
            }
            p = up;
        }
        false
    };
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&c, &p) in &parent {
        children.entry(p).or_default().push(c);
    }
    let execd: HashSet<i32> = exec.keys().copied().collect();
    let leaf = |p: i32| children.get(&p).is_none_or(|cs| cs.iter().all(|c| !execd.contains(c)));
    let mut lives: Vec<f64> = parent
        .keys()
        .filter(|&&p| execd.contains(&p) && descends(p))
        .filter(|&&p| {
            children.get(&p).is_some_and(|cs| {
                cs.iter().any(|c| execd.contains(c)) && cs.iter().all(|&c| leaf(c))
            })
        })
        .filter_map(|p| Some((exit.get(p)? - exec.get(p)?) as f64 / 1e9))
        .collect();
    lives.sort_by(f64::total_cmp);
    lives
}
