//! What a run ran on, sampled while it runs (about once a second): CPU time other processes
//! took (not this batch's server and aiperf), CPU time stolen by a hypervisor, the load
//! average, CPU clocks, memory pressure, and each GPU's clocks, temperature, power and throttle
//! reasons where `nvidia-smi` exists. Recorded in `process_result.json` beside the figures.

use std::path::Path;
use std::time::Instant;

use crate::records::{Conditions, GpuConditions, MeanMax};

/// CPU jiffies from the first line of `/proc/stat`: (busy, stolen, total).
fn cpu_jiffies(stat: &str) -> Option<(u64, u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal guest guest_nice
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let total: u64 = (0..8).map(get).sum();
    let idle = get(3) + get(4);
    Some((total - idle - get(7), get(7), total))
}

/// CPU jiffies (user + system) of the processes marked as this batch's (`marker` in their
/// environment): the server and aiperf, whose load is the benchmark, not noise; and sweeper's
/// own, with the children it has reaped. aiperf is sweeper's child: once it exits (before the
/// run's last sample) its CPU time moves into sweeper's `cutime`, and sweeper carries no marker;
/// left out, a real aiperf's work counted as other processes' (20-53% of the 2 CPUs, seen on
/// the quickstart) and flagged every run as measured on a busy machine. The built-in mock
/// server runs inside sweeper.
///
/// Only sweeper's descendants can carry the marker (supervisors adopt what their programs
/// orphan), so those are read, not every process of the machine; where the kernel does not list
/// children (`/proc/PID/task/TID/children`), every process is.
fn batch_jiffies(marker: &[u8]) -> u64 {
    let pids: Vec<u32> = descendants().unwrap_or_else(|| {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .collect()
    });
    let me = std::process::id();
    let mut sum = process_jiffies(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default());
    for pid in pids.into_iter().filter(|p| *p != me) {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if !env.split(|b| *b == 0).any(|kv| kv == marker) {
            continue;
        }
        sum += process_jiffies(
            &std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default(),
        );
    }
    sum
}

/// utime + stime + cutime + cstime of a `/proc/PID/stat` line: the process's CPU time and that
/// of the children it has reaped (0 where the line cannot be read).
fn process_jiffies(stat: &str) -> u64 {
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12) + n(13) + n(14)
}

/// Every descendant of this process, from the kernel's children lists (`None` where it has
/// none: `CONFIG_PROC_CHILDREN` off).
fn descendants() -> Option<Vec<u32>> {
    let me = std::process::id();
    let mut out = Vec::new();
    let mut stack = vec![me];
    while let Some(p) = stack.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            if p == me {
                return None;
            }
            continue;
        };
        for t in tasks.flatten() {
            match std::fs::read_to_string(t.path().join("children")) {
                Ok(s) => {
                    for c in s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()) {
                        if out.len() < 100_000 {
                            out.push(c);
                            stack.push(c);
                        }
                    }
                }
                Err(_) if p == me => return None,
                Err(_) => {}
            }
        }
    }
    Some(out)
}

/// Whether `nvidia-smi` answers on this machine: looked up on PATH (no process started where
/// it is not installed), then asked once per sweeper process.
pub fn nvidia_smi_present() -> bool {
    static PRESENT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRESENT.get_or_init(|| {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("nvidia-smi").is_file()));
        on_path
            && std::process::Command::new("nvidia-smi")
                .arg("-L")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// The mean `cpu MHz` of `/proc/cpuinfo`, where the kernel shows it.
fn cpu_mhz(cpuinfo: &str) -> Option<f64> {
    let v: Vec<f64> = cpuinfo
        .lines()
        .filter(|l| l.starts_with("cpu MHz"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse().ok())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// `some avg10` of `/proc/pressure/memory`: the share of the last 10 s in which some task
/// waited for memory, in %.
fn memory_pressure(psi: &str) -> Option<f64> {
    let line = psi.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace().find_map(|f| f.strip_prefix("avg10=")?.parse().ok())
}

/// One line per GPU of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`.
fn gpus(csv: &str) -> Vec<(f64, f64, f64, String)> {
    csv.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
            Some((num(0)?, num(1)?, num(2).unwrap_or(f64::NAN), f.get(3)?.to_string()))
        })
        .collect()
}

const GPU_QUERY: &str =
    "--query-gpu=clocks.sm,temperature.gpu,power.draw,clocks_throttle_reasons.active";

/// A running series: its mean and its largest value.
#[derive(Debug, Default, Clone)]
struct Series {
    sum: f64,
    n: u32,
    max: f64,
}

impl Series {
    fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.sum += x;
            self.max = if self.n == 0 { x } else { self.max.max(x) };
            self.n += 1;
        }
    }

    fn get(&self) -> Option<MeanMax> {
        (self.n > 0).then(|| MeanMax { mean: self.sum / f64::from(self.n), max: self.max })
    }
}

/// Per GPU: SM clock, temperature, power, and every throttle reason seen.
#[derive(Debug, Default, Clone)]
struct GpuSeries {
    clock: Series,
    temp: Series,
    power: Series,
    throttle: Vec<String>,
}

/// The shortest run whose CPU shares (other processes', steal) are measured.
const SHARE_WINDOW_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Samples a run's conditions; [`Sampler::finish`] gives them.
pub struct Sampler {
    marker: Vec<u8>,
    started: Instant,
    first: Option<(u64, u64, u64)>,
    batch_first: u64,
    samples: u32,
    load: Series,
    mhz: Series,
    pressure: Series,
    gpus: Vec<GpuSeries>,
    nvidia_smi: bool,
    /// When `/proc/cpuinfo` was read last: at most once a second (the kernel asks every CPU
    /// for its clock to write it, which costs about as much as the rest of a sample).
    mhz_at: Option<Instant>,
}

impl Sampler {
    /// Starts sampling for the batch at `batch_dir` (its processes carry it as their marker).
    pub fn start(batch_dir: &Path) -> Sampler {
        let marker =
            format!("{}={}", super::supervise::BATCH_ENV, batch_dir.display()).into_bytes();
        let nvidia_smi = nvidia_smi_present();
        let first = std::fs::read_to_string("/proc/stat").ok().and_then(|s| cpu_jiffies(&s));
        let batch_first = batch_jiffies(&marker);
        let mut s = Sampler {
            marker,
            started: Instant::now(),
            first,
            batch_first,
            samples: 0,
            load: Series::default(),
            mhz: Series::default(),
            pressure: Series::default(),
            gpus: Vec::new(),
            nvidia_smi,
            mhz_at: None,
        };
        s.sample();
        s
    }

    /// One sample of what can only be seen at a moment (load, clocks, pressure, GPUs).
    pub fn sample(&mut self) {
        self.samples += 1;
        let read = |p: &str| std::fs::read_to_string(p).ok();
        if let Some(l) = read("/proc/loadavg")
            .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse::<f64>().ok()))
        {
            self.load.add(l);
        }
        if self.mhz_at.is_none_or(|t| t.elapsed().as_secs_f64() >= 1.0) {
            self.mhz_at = Some(Instant::now());
            if let Some(m) = read("/proc/cpuinfo").as_deref().and_then(cpu_mhz) {
                self.mhz.add(m);
            }
        }
        if let Some(p) = read("/proc/pressure/memory").as_deref().and_then(memory_pressure) {
            self.pressure.add(p);
        }
        if self.nvidia_smi {
            self.sample_gpus();
        }
    }

    fn sample_gpus(&mut self) {
        let Ok(out) = std::process::Command::new("nvidia-smi")
            .args([GPU_QUERY, "--format=csv,noheader,nounits"])
            .output()
        else {
            return;
        };
        for (i, (clock, temp, power, throttle)) in
            gpus(&String::from_utf8_lossy(&out.stdout)).into_iter().enumerate()
        {
            if self.gpus.len() <= i {
                self.gpus.resize(i + 1, GpuSeries::default());
            }
            let g = &mut self.gpus[i];
            g.clock.add(clock);
            g.temp.add(temp);
            g.power.add(power);
            // A bitmask: 0x0 (or "Not Active") is no throttling.
            let idle = ["0x0000000000000000", "0x0", "Not Active", "[N/A]"];
            if !idle.contains(&throttle.as_str()) && !g.throttle.contains(&throttle) {
                g.throttle.push(throttle);
            }
        }
    }

    /// The conditions over the whole run.
    ///
    /// A window shorter than [`SHARE_WINDOW_MIN`] keeps its first sample and gets no CPU
    /// shares: the kernel counts CPU time in 10 ms ticks, so a share of a shorter window is
    /// mostly rounding; and between two runs of a fast sweep, a sample, `/proc/stat` and a walk
    /// of sweeper's descendants (~20 /proc files) were most of sweeper's own time.
    pub fn finish(mut self) -> Conditions {
        if self.started.elapsed() < SHARE_WINDOW_MIN {
            return self.conditions(None, None);
        }
        self.sample();
        let last = std::fs::read_to_string("/proc/stat").ok().and_then(|s| cpu_jiffies(&s));
        let batch = batch_jiffies(&self.marker).saturating_sub(self.batch_first);
        let (other_cpu, steal) = match (self.first, last) {
            (Some((b0, s0, t0)), Some((b1, s1, t1))) if t1 > t0 => {
                let total = (t1 - t0) as f64;
                let busy = (b1.saturating_sub(b0)) as f64;
                let other = (busy - batch as f64).max(0.0) / total;
                (Some(other), Some(s1.saturating_sub(s0) as f64 / total))
            }
            _ => (None, None),
        };
        self.conditions(other_cpu, steal)
    }

    fn conditions(self, other_cpu: Option<f64>, steal: Option<f64>) -> Conditions {
        // The CPUs sweeper may use (cgroup quota included): read once per process.
        static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cpus = *CPUS
            .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
        Conditions {
            samples: self.samples,
            seconds: self.started.elapsed().as_secs_f64(),
            cpus,
            other_cpu,
            steal,
            load_avg_1m: self.load.get(),
            cpu_mhz: self.mhz.get(),
            memory_pressure_pct: self.pressure.get(),
            gpus: self
                .gpus
                .into_iter()
                .map(|g| GpuConditions {
                    sm_clock_mhz: g.clock.get(),
                    temperature_c: g.temp.get(),
                    power_w: g.power.get(),
                    throttle_reasons: g.throttle,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read_as_the_kernel_writes_them() {
        let stat = "cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\nintr 1\n";
        // busy = total(990) - idle(800 + 20) - steal(10)
        assert_eq!(cpu_jiffies(stat), Some((160, 10, 990)));
        let info = "processor\t: 0\ncpu MHz\t\t: 2000.000\nprocessor\t: 1\ncpu MHz\t\t: 3000.5\n";
        assert_eq!(cpu_mhz(info), Some(2500.25));
        let psi = "some avg10=1.25 avg60=0.50 avg300=0.10 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(memory_pressure(psi), Some(1.25));
        let smi = "1410, 65, 250.12, 0x0000000000000000\n1200, 83, 299.9, 0x0000000000000040\n";
        let g = gpus(smi);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1], (1200.0, 83.0, 299.9, "0x0000000000000040".to_owned()));
    }

    #[test]
    fn a_run_records_the_cpu_time_other_processes_took() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sampler::start(dir.path());
        // Another process, not the batch's, busy for a while: not sweeper's child (whose time
        // is the batch's once reaped), so it is started in the background by one and left to
        // the init process.
        let done = dir.path().join("done");
        let script = format!(
            "(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; touch {}) >/dev/null 2>&1 &",
            done.display()
        );
        let mut sh = std::process::Command::new("sh").args(["-c", &script]).spawn().unwrap();
        sh.wait().unwrap();
        let waited = std::time::Instant::now();
        while !done.exists() && waited.elapsed() < std::time::Duration::from_secs(60) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Shares are measured over a window of a second or more.
        std::thread::sleep(SHARE_WINDOW_MIN.saturating_sub(s.started.elapsed()));
        let c = s.finish();
        assert!(c.samples >= 2 && c.cpus >= 1, "{c:?}");
        let other = c.other_cpu.expect("other CPU time is measured on Linux");
        assert!(other > 0.0 && other <= 1.0, "{c:?}");
        assert!(c.load_avg_1m.is_some(), "{c:?}");
    }

    /// sweeper's own CPU time and its reaped children's (aiperf once it exits, the built-in mock
    /// server's work) are the batch's, not other processes'.
    #[test]
    fn sweeper_and_the_children_it_reaped_are_the_batch() {
        let marker = b"SWEEPER_BATCH_DIR=/nowhere".to_vec();
        let children = || {
            // SAFETY: rusage is plain data, filled by getrusage.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) }, 0);
            ru.ru_utime.tv_sec as f64 + ru.ru_utime.tv_usec as f64 / 1e6
        };
        let (before, reaped) = (batch_jiffies(&marker), children());
        let mut hog = std::process::Command::new("timeout")
            .args(["0.5", "sh", "-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        hog.wait().unwrap();
        let burnt = children() - reaped;
        let ticks = (batch_jiffies(&marker) - before) as f64 / 100.0;
        // The child burnt ~0.5 s (less when the machine is busy); 10 ms ticks round it.
        assert!(burnt > 0.05, "the hog burnt {burnt} s");
        assert!(ticks >= burnt * 0.5, "batch time grew {ticks} s, the reaped child took {burnt} s");
    }

    /// A run too short for a window of CPU time keeps its first sample and gets no shares.
    #[test]
    fn a_short_run_gets_one_sample_and_no_cpu_shares() {
        let dir = tempfile::tempdir().unwrap();
        let c = Sampler::start(dir.path()).finish();
        assert_eq!(c.samples, 1, "{c:?}");
        assert!(c.cpus >= 1 && c.seconds < 1.0, "{c:?}");
        assert!(c.other_cpu.is_none() && c.steal.is_none(), "{c:?}");
        assert!(c.load_avg_1m.is_some(), "{c:?}");
    }
}
