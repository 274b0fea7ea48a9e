//! What the user sees of a sweep: the run stage's events as terminal lines (a redrawn progress
//! line on a terminal, plain lines otherwise), and the table a sweep ends with.
//!
//! Every write ignores errors: a closed stdout or stderr (`sweeper ... | head`) must never stop
//! or corrupt a sweep.

use std::io::IsTerminal;
use std::time::Duration;

use crate::plan::Combination;
use crate::records::RunStatus;
use crate::run::{Event, Observer};

pub use crate::util::term::{err_line, err_text, out_line, out_text};

pub fn say(msg: &str) {
    err_line(&format!("sweeper: {msg}"));
}

pub use crate::records::describe_params;

/// `concurrency=4 isl=128`, or `single run`.
pub fn describe(c: &Combination) -> String {
    let point = if c.params.is_empty() { "single run".into() } else { describe_params(&c.params) };
    match c.repeat {
        Some(k) => format!("{point} (repeat {k})"),
        None => point,
    }
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Partial => "succeeded with failed requests",
        RunStatus::Failed => "FAILED",
        RunStatus::TimedOut => "TIMED OUT",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Skipped => "skipped",
        RunStatus::Pending => "pending",
        RunStatus::Running => "running",
    }
}

/// `H:MM:SS`.
pub fn hms(secs: f64) -> String {
    let s = if secs.is_finite() { secs.clamp(0.0, 1.0e9) as u64 } else { 0 };
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The terminal observer of a sweep.
pub struct Terminal {
    verbose: bool,
    /// A redrawn status line (stderr is a terminal and not `--verbose`).
    tty: bool,
    /// Durations of the runs of this session, for the ETA.
    durations: Vec<f64>,
}

impl Terminal {
    pub fn new(verbose: bool) -> Self {
        Terminal {
            verbose,
            tty: std::io::stderr().is_terminal() && !verbose,
            durations: Vec::new(),
        }
    }

    fn mean(&self) -> Option<f64> {
        (!self.durations.is_empty())
            .then(|| self.durations.iter().sum::<f64>() / self.durations.len() as f64)
    }

    fn progress(&self, c: &Combination, pos: usize, of: usize, elapsed: Duration) {
        if !self.tty {
            return;
        }
        let el = elapsed.as_secs_f64();
        let eta = match self.mean() {
            None => "?".to_owned(),
            Some(mean) => hms((mean - el).max(0.0) + mean * of.saturating_sub(pos) as f64),
        };
        err_text(&format!("\r\x1b[2K[{pos}/{of}] {}  elapsed {}  ETA {eta}", describe(c), hms(el)));
    }

    fn finished(
        &mut self,
        c: &Combination,
        status: RunStatus,
        reason: Option<&str>,
        took: Duration,
    ) {
        if self.tty {
            err_text("\r\x1b[2K");
        }
        let took = took.as_secs_f64();
        self.durations.push(took);
        let word = status_word(status);
        say(&match reason {
            Some(r) => format!("#{} {word} after {took:.1}s: {r}", c.index),
            None => format!("#{} {word} in {took:.1}s", c.index),
        });
    }
}

impl Observer for Terminal {
    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Setup(l) => say(l),
            Event::BatchStarted { dir, .. } => {
                say(&format!("batch directory: {}", dir.display()));
            }
            Event::RunSkipped { c } => {
                say(&format!("[skip] #{} {} already succeeded", c.index, describe(c)));
            }
            Event::RunQueued { c, pos, of } => {
                let eta = self
                    .mean()
                    .map(|m| format!(", ETA {}", hms(m * (of - pos + 1) as f64)))
                    .unwrap_or_default();
                say(&format!("run {pos}/{of} (#{}): {}{eta}", c.index, describe(c)));
            }
            Event::ServerChecking { id, url } => {
                say(&format!("{id}: checking external server {url}"))
            }
            Event::ServerStarting { id, kind, command } => {
                say(&format!("{id}: starting {kind} server: {command}"));
            }
            Event::ServerReady { id, url, after } => {
                say(&format!("{id}: ready after {:.1}s at {url}", after.as_secs_f64()));
            }
            Event::ServerFailed { reason, .. } => say(&format!("error: {reason}")),
            Event::ServerUnavailable { c, id } => {
                say(&format!("#{} FAILED: {id} did not start (see above)", c.index));
            }
            Event::ServerStopping { id, what } => say(&format!("{id}: {what}")),
            Event::ServerStopped { id } if self.verbose => say(&format!("{id}: stopped")),
            Event::ServerStopped { .. } => {}
            Event::RunStarted { command, .. } if self.verbose => {
                say(&format!("command: {command}"))
            }
            Event::RunStarted { .. } => {}
            Event::RunProgress { c, pos, of, elapsed } => self.progress(c, pos, of, elapsed),
            Event::AiperfOutput(line) => err_line(&format!("  | {line}")),
            Event::RunFinished { c, status, reason, duration, .. } => {
                self.finished(c, status, reason, duration);
            }
            Event::RunStopped { c, reason } => {
                say(&format!("[skip] #{} {}: not run, {reason}", c.index, describe(c)));
            }
            e @ Event::SearchFinished { .. } => say(&search_finished(&e)),
            Event::Interrupted => err_line(
                "\nsweeper: interrupted: stopping aiperf and the server cleanly (Ctrl-C again to kill at once)",
            ),
            Event::Warning(w) => say(&format!("warning: {w}")),
            Event::BatchFinished { .. } => {}
        }
    }
}

/// Width the end-of-run table fits.
const TABLE_WIDTH: usize = 100;

/// The compact table a sweep ends with (like hyperfine's): one line per point with its swept
/// parameters, status, TTFT p99, TPOT avg, output tokens/s, requests/s and target verdicts,
/// fitting [`TABLE_WIDTH`] columns; status in color only on a terminal (and not with NO_COLOR).
pub fn results_table(report: &crate::report::Report, color: bool) -> String {
    let head = ["#", "point", "status", "TTFT p99", "TPOT avg", "out tok/s", "req/s", "targets"];
    let rows: Vec<[String; 8]> = report.rows.iter().map(table_row).collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The point column takes what the others leave of the width (2 spaces between columns).
    let others: usize =
        widths.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, w)| w + 2).sum();
    widths[1] = widths[1].min(TABLE_WIDTH.saturating_sub(others + 2).max(10));
    let line = |cells: &[String], status: Option<&str>| -> String {
        let mut parts = Vec::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let c = cut(c, *w);
            // Text left, numbers right.
            let cell =
                if i == 1 || i == 2 || i == 7 { format!("{c:<w$}") } else { format!("{c:>w$}") };
            parts.push(match status {
                Some(s) if i == 2 && color => paint(s, cell),
                _ => cell,
            });
        }
        format!("  {}", parts.join("  ").trim_end())
    };
    let mut out = line(&head.map(String::from), None);
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r, Some(&r[2])));
        out.push('\n');
    }
    out
}

/// One point's cells: index, parameters, status, TTFT p99, TPOT avg, out tok/s, req/s, targets.
fn table_row(r: &crate::report::Row) -> [String; 8] {
    use crate::model::metrics::{Metric, Stat};
    let num = |v: Option<f64>, unit: &str| match v {
        Some(x) if x.is_finite() && x.abs() < 1e6 => format!("{x:.1}{unit}"),
        Some(x) if x.is_finite() => format!("{x:.2e}{unit}"),
        _ => "-".to_owned(),
    };
    let get = |metric, stat| r.metrics.as_ref().and_then(|v| v.get(metric, stat));
    let point = if r.params.is_empty() {
        "-".to_owned()
    } else {
        r.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    };
    let (pass, fail) = r.targets.iter().fold((0, 0), |(p, f), t| match t.verdict {
        "PASS" => (p + 1, f),
        "FAIL" => (p, f + 1),
        _ => (p, f),
    });
    let targets = match (pass, fail) {
        (0, 0) => "-".to_owned(),
        (p, 0) => format!("{p} PASS"),
        (p, f) => format!("{f} FAIL/{}", p + f),
    };
    [
        r.index.to_string(),
        point,
        r.status.clone(),
        num(get(Metric::Ttft, Stat::P99), " ms"),
        num(get(Metric::Tpot, Stat::Avg), " ms"),
        num(get(Metric::OutputTokS, Stat::Avg), ""),
        num(get(Metric::ReqS, Stat::Avg), ""),
        targets,
    ]
}

/// `s` cut to `w` characters, with an ellipsis when cut.
fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_owned()
    } else {
        s.chars().take(w.saturating_sub(1)).chain(['…']).collect()
    }
}

/// A status cell in its color (green, yellow, red).
fn paint(status: &str, text: String) -> String {
    let code = match status {
        "succeeded" => "32",
        "partial" => "33",
        "failed" | "timed_out" | "interrupted" => "31",
        _ => return text,
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Whether to color the end-of-run table: stderr is a terminal and NO_COLOR is not set.
pub fn use_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `search <group>: largest <variable> under the SLO: ...`, when a search ends.
fn search_finished(e: &Event<'_>) -> String {
    let Event::SearchFinished {
        group,
        variable,
        best,
        first_fail,
        runs,
        capped,
        confirmations,
        flips,
    } = *e
    else {
        return String::new();
    };
    let best = best.map_or_else(
        || "none: the smallest value already breaks the SLO".to_owned(),
        |b| {
            let b = crate::util::number::exact(b);
            if capped { format!("at least {b} (the most it tried: `max`)") } else { b }
        },
    );
    let fail = first_fail
        .map(|(v, why)| format!("; first breach at {}: {why}", crate::util::number::exact(v)))
        .unwrap_or_default();
    let confirmed = match (confirmations, flips) {
        (0, _) => String::new(),
        (n, 0) => format!(", {n} to confirm the boundary"),
        (n, f) => format!(", {n} to confirm the boundary, {f} verdict(s) changed"),
    };
    format!(
        "search {group}: largest {variable} under the SLO: {best}{fail} ({runs} runs{confirmed})"
    )
}
