//! What `--dry-run` prints: every combination, each server's command and health check, the
//! defaults sweeper applied, and every aiperf command exactly as it will run. Pure text.

use std::fmt::Write;
use std::path::Path;

use crate::config::Config;
use crate::plan::{self, ArgContext, Combination, Plan, argv};

/// The whole dry-run text.
pub fn text(cfg: &Config, plan: &Plan, verbose: bool) -> String {
    let mut out = String::new();
    let n = plan.combinations.len();
    let servers = server_ids(plan);
    let batch_dir = cfg.output_base_dir.join(&cfg.batch_name).join("<YYYYMMDD_HHMMSS>");
    let _ = writeln!(
        out,
        "dry run: `{}` is valid: {n} combination{}, {} server{}; nothing will be run or written",
        cfg.file.display(),
        if n == 1 { "" } else { "s" },
        servers.len(),
        if servers.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(out, "batch directory: {}", batch_dir.display());
    if let Some(r) = &plan.repeats {
        let points = plan.combinations.iter().map(|c| c.point).max().map_or(0, |p| p + 1);
        let _ = writeln!(
            out,
            "repeats: {} per point ({}), {}% confidence intervals, noisy above {}% CV{}",
            r.count,
            match r.order {
                crate::records::RepeatOrder::Interleaved =>
                    "interleaved: repeat 1 of every point, then repeat 2, ...",
                crate::records::RepeatOrder::BackToBack =>
                    "back to back: aiperf --num-profile-runs",
            },
            r.confidence * 100.0,
            r.noise_cv_max * 100.0,
            if r.order == crate::records::RepeatOrder::Interleaved {
                format!("; {points} points x {} = {} aiperf runs", r.count, plan.combinations.len())
            } else {
                String::new()
            }
        );
    }
    if let Some(id) = &plan.tt_model_id {
        let _ = writeln!(
            out,
            "tt-inference-server files: aiperf_benchmark_{id}_<start>_isl-<isl>_osl-<osl>_maxcon-<c>_n-<n>.json"
        );
    }
    let _ = writeln!(out);
    table(&mut out, plan);
    let _ = writeln!(out);
    for sid in &servers {
        if let Some(c) = plan.combinations.iter().find(|c| c.server_id == *sid) {
            server(&mut out, cfg, sid, c);
        }
    }
    defaults(&mut out, plan);
    commands(&mut out, plan, &batch_dir, verbose);
    out
}

/// Server ids in order of first appearance (server-2 before server-10).
fn server_ids(plan: &Plan) -> Vec<&str> {
    let mut servers: Vec<&str> = Vec::new();
    for c in &plan.combinations {
        if !servers.contains(&c.server_id.as_str()) {
            servers.push(&c.server_id);
        }
    }
    servers
}

/// The combinations: index, swept values, server, directory.
fn table(out: &mut String, plan: &Plan) {
    let mut keys: Vec<String> = plan.swept_keys.clone();
    keys.sort();
    let mut header = vec!["#".to_owned()];
    header.extend(keys.iter().cloned());
    let repeats = plan.combinations.iter().any(|c| c.repeat.is_some());
    if repeats {
        header.push("repeat".into());
    }
    header.push("server".into());
    header.push("directory".into());
    let mut rows: Vec<Vec<String>> = vec![header];
    for (c, (index, vals, dir)) in plan.combinations.iter().zip(plan::params_table(plan)) {
        let mut row = vec![index.to_string()];
        row.extend(keys.iter().map(|k| vals.get(k).cloned().unwrap_or_default()));
        if repeats {
            row.push(c.repeat.map(|k| k.to_string()).unwrap_or_default());
        }
        row.push(c.server_id.clone());
        row.push(if dir.is_empty() { "(batch directory)".into() } else { dir });
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
}

/// One server: how it is started (or where it is), and its health check.
fn server(out: &mut String, cfg: &Config, sid: &str, c: &Combination) {
    let health = plan::server::health(
        c.server.as_ref(),
        c.merged.get("health_check_endpoint").and_then(|v| v.as_str()),
    )
    .describe();
    let launch =
        c.server.as_ref().and_then(|s| plan::server::launch(s, &cfg.batch_name, sid, "sweeper"));
    let (Some(s), Some(l)) = (&c.server, launch) else {
        let _ = writeln!(
            out,
            "{sid}: external server at {} (health: {health})",
            c.url().unwrap_or_default()
        );
        return;
    };
    let _ = writeln!(out, "{sid}: {} server, started with:", s.kind());
    let mut line = String::new();
    if let Some(cwd) = &l.cwd {
        let _ = write!(line, "cd {} && ", shell_words::quote(&cwd.display().to_string()));
    }
    for (k, v) in &l.env {
        let _ = write!(line, "{k}={} ", shell_words::quote(v));
    }
    line.push_str(&argv::shell_line(&l.argv));
    let _ = writeln!(out, "    {line}");
    let _ = writeln!(
        out,
        "    health: {health} at {} within {}s",
        l.url.as_deref().unwrap_or("http://127.0.0.1:<port>"),
        l.startup_timeout_s
    );
}

/// Settings sweeper added because the config left them out, once each, with how many
/// combinations got them and why.
fn defaults(out: &mut String, plan: &Plan) {
    let mut seen: Vec<(String, String, &str, usize)> = Vec::new();
    for c in &plan.combinations {
        for (k, v, why) in &c.applied_defaults {
            let v = argv::scalar_text(v);
            match seen.iter_mut().find(|(sk, sv, _, _)| sk == k && *sv == v) {
                Some(e) => e.3 += 1,
                None => seen.push((k.clone(), v, why, 1)),
            }
        }
    }
    if seen.is_empty() {
        return;
    }
    let _ = writeln!(out, "\napplied defaults (the config leaves them out):");
    for (k, v, why, count) in seen {
        let _ = writeln!(
            out,
            "  {k}: {v} ({count} of {} combinations): {why}",
            plan.combinations.len()
        );
    }
}

/// Every aiperf command in run order (with `--verbose`, each merged config and its targets).
fn commands(out: &mut String, plan: &Plan, batch_dir: &Path, verbose: bool) {
    let _ = writeln!(out, "\naiperf commands (run order):");
    for i in plan.run_order() {
        let c = &plan.combinations[i];
        let dir = if c.dir.is_empty() { batch_dir.to_path_buf() } else { batch_dir.join(&c.dir) };
        let ctx = ArgContext { artifact_dir: Some(&dir), verbose, ..Default::default() };
        let _ = writeln!(out, "[{}] {}", c.index, argv::shell_line(&argv::render(&c.args, &ctx)));
        if !verbose {
            continue;
        }
        let merged = serde_json::to_string_pretty(&c.merged).unwrap_or_default();
        let _ = writeln!(out, "    merged config:");
        for l in merged.lines() {
            let _ = writeln!(out, "      {l}");
        }
        for t in &c.targets {
            let _ = writeln!(
                out,
                "    target: {} = {} (tolerance {}, {})",
                t.metric, t.target, t.tolerance, t.source
            );
        }
    }
}
