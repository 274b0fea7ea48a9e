//! What `--dry-run` prints: every combination, each server's command and health check, the
//! defaults sweeper applied, and every aiperf command exactly as it will run. Pure text.

use std::fmt::Write;
use std::path::Path;

use crate::config::Config;
use crate::plan::{self, ArgContext, Combination, Plan, argv};

/// The whole dry-run text.
pub fn text(cfg: &Config, plan: &Plan, verbose: bool) -> String {
    let batch_dir = cfg.output_base_dir.join(&cfg.batch_name).join("<YYYYMMDD_HHMMSS>");
    text_in(cfg, plan, verbose, &batch_dir)
}

/// As [`text`], for a batch in `batch_dir` (a shard's `<batch id>/shards/<K>`).
pub fn text_in(cfg: &Config, plan: &Plan, verbose: bool, batch_dir: &Path) -> String {
    let mut out = String::new();
    let servers = plan.server_ids();
    let batch_dir = batch_dir.to_path_buf();
    let _ = writeln!(
        out,
        "dry run: `{}` is valid: {}, {} server{}; nothing will be run or written",
        cfg.file.display(),
        plan.size_text(),
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
    if let Some(ls) = &plan.load_search {
        load_search(&mut out, plan, ls);
    }
    if let Some(ab) = &plan.ab {
        ab_line(&mut out, plan, ab);
    }
    let _ = writeln!(out);
    if !plan.combinations.is_empty() {
        table(&mut out, plan);
        let _ = writeln!(out);
    }
    for sid in &servers {
        if let Some(c) = plan.all().find(|c| c.server_id == *sid) {
            server(&mut out, cfg, sid, c);
        }
    }
    defaults(&mut out, plan);
    if !plan.combinations.is_empty() {
        commands(&mut out, plan, &batch_dir, verbose);
    }
    out
}

/// What an A/B batch compares, how its servers run and what the interleaving costs.
fn ab_line(out: &mut String, plan: &Plan, ab: &crate::records::Ab) {
    let mut values: Vec<String> = Vec::new();
    for v in plan.combinations.iter().filter_map(|c| plan::value_of(&c.params, &ab.by)) {
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        if !values.contains(&v) {
            values.push(v);
        }
    }
    let (starts, servers) = plan::server_starts(plan);
    let how = match ab.servers {
        crate::records::AbServers::Together => format!(
            "servers: together: every value's server stays up, the values alternate point by point; {starts} server start{} (no restart)",
            if starts == 1 { "" } else { "s" }
        ),
        crate::records::AbServers::Restart => format!(
            "servers: restart: one server at a time, each repeat runs every point of one value, then of the next (A B, then B A); {starts} server starts where {servers} would do without interleaving: {} restart{} to interleave",
            starts.saturating_sub(servers),
            if starts.saturating_sub(servers) == 1 { "" } else { "s" }
        ),
    };
    let _ = writeln!(
        out,
        "ab: compares `{}` inside this batch: A = {}, B = {}; {how}. Verdict: `sweeper compare BATCH`",
        ab.by,
        values.first().map_or("-", String::as_str),
        if values.len() > 1 { values[1..].join(", ") } else { "-".to_owned() },
    );
}

/// What a `stop_when` or a `search` will do: its SLO, its bounds and the most runs it takes.
fn load_search(out: &mut String, plan: &Plan, ls: &crate::records::LoadSearch) {
    let slo = ls.slo.iter().map(|(k, v)| format!("{k} <= {v}")).collect::<Vec<_>>().join(", ");
    let on = match ls.slo_on {
        crate::model::slo::SloOn::Mean => "",
        crate::model::slo::SloOn::CiUpper => " (on the upper end of the confidence interval)",
    };
    match ls.mode {
        crate::records::SearchMode::StopWhen { saturation } => {
            let _ = writeln!(
                out,
                "stop_when: {} ladder(s) over `{}`, each run in increasing order and stopped at the first point that breaks {}{on}{}; the larger values of that ladder are skipped. Without `repeats`, a breach is confirmed by running it again (a third time when the two disagree), then the last pass: at most 4 re-runs per ladder",
                ls.groups.len(),
                ls.variable,
                if slo.is_empty() { "no SLO".to_owned() } else { slo },
                saturation
                    .map(|s| format!(" or gains less than {}% output tok/s", s * 100.0))
                    .unwrap_or_default()
            );
        }
        crate::records::SearchMode::Search { min, max, resolution, integer } => {
            let per = crate::search::probe::max_probes(ls.mode);
            let _ = writeln!(
                out,
                "search: the largest `{}` in [{min}, {max}] that meets {slo}{on}, per group ({} group(s)): doubling from {min}, then bisecting to {}% ({}); at most {per} probe(s) per group, {} in all. The probes are decided while running; each is a run of its own (`{}<value>_...`).",
                ls.variable,
                ls.groups.len(),
                resolution * 100.0,
                if integer { "integers: until 1 apart" } else { "relative to the last pass" },
                per * ls.groups.len(),
                ls.variable
            );
            for t in &plan.templates {
                let rest = plan::id::dir_name(&t.params);
                let dir = Path::new("<batch>").join(if rest.is_empty() {
                    format!("{}<value>", ls.variable)
                } else {
                    format!("{}<value>_{rest}", ls.variable)
                });
                let ctx = ArgContext { artifact_dir: Some(&dir), ..Default::default() };
                let _ = writeln!(
                    out,
                    "  group {} ({}, {}): {} --{} <probe>",
                    t.index,
                    plan::describe_params(&t.params),
                    t.server_id,
                    argv::shell_line(&argv::render(&t.args, &ctx)),
                    ls.variable.replace('_', "-")
                );
            }
        }
    }
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
        c.server.as_deref(),
        c.merged.get("health_check_endpoint").and_then(|v| v.as_str()),
    )
    .describe();
    if let Some(crate::config::ServerConfig::Kubernetes(k)) = c.server.as_deref() {
        kubernetes(out, cfg, sid, k, &health);
        return;
    }
    let launch =
        c.server.as_deref().and_then(|s| plan::server::launch(s, &cfg.batch_name, sid, "sweeper"));
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

/// A `kubernetes` server: the objects its rendered manifest declares, how readiness is judged,
/// how it is reached and torn down (the manifest was rendered when the plan was checked).
fn kubernetes(
    out: &mut String,
    cfg: &Config,
    sid: &str,
    k: &crate::config::raw::KubernetesServer,
    health: &str,
) {
    let Ok(d) = plan::kube::deployment(k, &cfg.batch_name, sid) else { return };
    let line = |args: &[String]| argv::shell_line(&d.kubectl(&k.kubectl, args));
    let _ = writeln!(out, "{sid}: kubernetes server, deployed with:");
    let _ = writeln!(
        out,
        "    {} (stdin: {} rendered, declaring {})",
        line(&plan::kube::APPLY_ARGS.map(str::to_owned)),
        k.manifest.display(),
        d.references().join(", ")
    );
    let _ = writeln!(
        out,
        "    ready: {} on {}, polled every {}s, within {}s",
        d.rule.describe(),
        d.ready_object,
        k.poll_interval_s,
        k.startup_timeout_s
    );
    if let Some(args) = d.forward_args() {
        let _ = writeln!(out, "    reached by: {}", line(&args));
    }
    let _ = writeln!(out, "    health: {health} at {}", d.url());
    let end = match k.teardown {
        crate::config::raw::KubernetesTeardown::Delete => format!(
            "{} (after collecting the pods' logs)",
            line(&d.delete_args(Some(k.delete_timeout_s as u64)))
        ),
        crate::config::raw::KubernetesTeardown::Keep => "kept running".to_owned(),
    };
    let _ = writeln!(out, "    at the end: {end}");
}

/// Settings sweeper added because the config left them out, once each, with how many
/// combinations got them and why.
fn defaults(out: &mut String, plan: &Plan) {
    let mut seen: Vec<(String, String, &str, usize)> = Vec::new();
    for c in plan.all() {
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
        let _ = writeln!(out, "  {k}: {v} ({count} of {} combinations): {why}", plan.all().count());
    }
}

/// Every aiperf command in run order (with `--verbose`, each merged config and its targets).
fn commands(out: &mut String, plan: &Plan, batch_dir: &Path, verbose: bool) {
    let _ = writeln!(out, "\naiperf commands (run order):");
    // A shard's plan holds only its combinations: look them up by index, not by position.
    let by_index: std::collections::HashMap<usize, &Combination> =
        plan.combinations.iter().map(|c| (c.index, c)).collect();
    for i in plan.run_order() {
        let Some(c) = by_index.get(&i) else { continue };
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

/// `sweeper plan X --shards N`: what each shard runs, and its estimated cost.
pub fn shards_text(plan: &Plan, parts: &[crate::scaleout::shard::ShardPlan]) -> String {
    let mut out = String::new();
    let total: f64 = parts.iter().map(|p| p.cost).sum();
    let _ = writeln!(
        out,
        "{} over {} shard(s), balanced by estimated cost (benchmark_duration, else request_count, per run); a server group stays on one shard unless there are more shards than groups",
        plan.size_text(),
        parts.len()
    );
    for (k, p) in parts.iter().enumerate() {
        let share = if total > 0.0 { p.cost / total * 100.0 } else { 0.0 };
        let what = if p.templates.is_empty() {
            format!("{} combination(s)", p.combinations.len())
        } else {
            format!("{} search group(s)", p.templates.len())
        };
        let _ = writeln!(
            out,
            "\nshard {k}/{}: {what}, cost {} ({share:.0}%), servers: {}",
            parts.len(),
            crate::util::number::exact(p.cost),
            if p.servers.is_empty() { "none".to_owned() } else { p.servers.join(", ") }
        );
        if p.combinations.is_empty() && p.templates.is_empty() {
            let _ = writeln!(out, "  (nothing: fewer units than shards)");
        }
        for i in &p.combinations {
            let c = &plan.combinations[*i];
            let _ = writeln!(
                out,
                "  #{i} {}{}",
                plan::describe_params(&c.params),
                c.repeat.map(|k| format!(" (repeat {k})")).unwrap_or_default()
            );
        }
        for g in &p.templates {
            let _ = writeln!(
                out,
                "  search group {g}: {}",
                plan::describe_params(&plan.templates[*g].params)
            );
        }
    }
    out
}
