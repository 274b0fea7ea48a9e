//! Validation: YAML parse (with budgets), the JSON Schema, then the semantic checks that a
//! schema cannot express. Collects every problem before giving up.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value};

use super::error::{ConfigError, Diagnostic};
use super::locate::{LocationIndex, Pos, escape_segment};
use super::options::{self, canonical};
use super::raw::{self, FORBIDDEN_KEYS, RawConfig, SWEEPER_KEYS, ServerConfig};
use super::{Config, DEFAULT_MAX_COMBINATIONS, LoadOptions, durations};

/// The generated schema, built once per process.
fn schema_value() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(raw::schema)
}

fn compiled_schema() -> &'static Result<jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(schema_value()).map_err(|e| e.to_string()))
}

/// The property names of the schema object at `pointer` (e.g. `/$defs/AiperfSettings`):
/// the keys allowed there, read from the same schema that validates them.
fn schema_keys(pointer: &str) -> Vec<String> {
    schema_value()
        .pointer(pointer)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn validate(
    path: &Path,
    text: String,
    opts: &LoadOptions,
) -> Result<Config, ConfigError> {
    let fail = |diagnostics: Vec<Diagnostic>, text: &str| ConfigError {
        file: path.to_path_buf(),
        diagnostics,
        source: text.to_owned(),
    };

    // 1. YAML, with budgets: depth, node count and alias expansion are bounded ("billion
    //    laughs" fails fast), and a duplicate key is an error rather than a silent overwrite.
    let yaml_opts = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 48,
            max_nodes: 200_000,
            max_aliases: 2_000,
            max_total_scalar_bytes: 4 * 1024 * 1024,
            max_documents: 1,
        },
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    let doc: Value = match serde_saphyr::from_str_with_options::<Value>(&text, yaml_opts) {
        Ok(v) => v,
        Err(e) => {
            let pos =
                e.location().map(|l| Pos { line: l.line() as usize, col: l.column() as usize });
            let msg = e.without_snippet().to_string();
            let msg = msg.lines().next().unwrap_or("invalid YAML").to_owned();
            let non_finite = msg.contains("non-finite");
            let hint = if non_finite {
                "non-finite numbers (`.inf`, `.nan`) are not allowed: write a finite number; for aiperf's unlimited grace period write the string `inf`"
            } else if msg.contains("duplicate") {
                "each key may appear once per mapping; remove or rename the repeated one"
            } else if msg.to_lowercase().contains("budget") || msg.to_lowercase().contains("alias")
            {
                "the document is too deep, too large or expands too many aliases for a config"
            } else {
                "fix the YAML syntax (indentation, quotes, `key: value` pairs)"
            };
            // The key path nearest the error, from what parsed before it.
            let pointer = pos.map(|p| LocationIndex::build(&text).path_at(p)).unwrap_or_default();
            let d = if non_finite {
                let key = super::error::pointer_to_key_path(&pointer);
                Diagnostic::new(pointer, format!("`{key}` is not a finite number: {msg}"))
            } else {
                Diagnostic::new(pointer, format!("invalid YAML: {msg}"))
            };
            let d = d.at(pos).hint(hint);
            return Err(fail(vec![d], &text));
        }
    };
    let index = LocationIndex::build(&text);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let at = |d: Diagnostic, key: bool| {
        let pos = if key { index.key(&d.pointer) } else { index.value(&d.pointer) };
        d.at(pos)
    };

    let Some(top) = doc.as_object() else {
        let d = Diagnostic::new(
            "",
            format!("expected a mapping of config keys, found {}", kind_of(&doc)),
        )
        .hint(
            "start from aiperf_configs/quickstart.yaml: `batch_name`, `base_config`, `sweeps`, ...",
        );
        return Err(fail(vec![at(d, false)], &text));
    };

    // 2. Keys sweeper forbids (secrets, what it sets itself), reported with the reason, then
    //    removed so the schema does not report them again as unknown.
    let mut work = doc.clone();
    for section in ["base_config", "sweeps"] {
        forbid_keys(&mut work, &format!("/{section}"), &mut diags, &at);
    }
    for section in ["scenarios", "exclude"] {
        let n = work.get(section).and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..n {
            forbid_keys(&mut work, &format!("/{section}/{i}"), &mut diags, &at);
        }
    }

    // Placeholders: a base_config key that every combination overrides (by a sweep or by every
    // scenario) is never used, so `concurrency: 0  # Overridden by sweep` is fine.
    let overridden = overridden_keys(top);
    if let Some(base) = work.get_mut("base_config").and_then(Value::as_object_mut) {
        base.retain(|k, _| !overridden.contains(&canonical(k)));
    }

    alias_duplicates(top, &mut diags, &at);

    // 3. The schema: every violation at once.
    match compiled_schema() {
        Ok(validator) => {
            for e in validator.iter_errors(&work) {
                diags.extend(schema_diagnostic(&e, &work, &index));
            }
        }
        Err(e) => diags
            .push(Diagnostic::new("", format!("internal error: the schema does not compile: {e}"))),
    }
    if !diags.is_empty() {
        sort_dedup(&mut diags);
        return Err(fail(diags, &text));
    }

    // 4. Typed view (cannot fail after the schema, but never panic if it does).
    let raw_cfg: RawConfig = match serde_json::from_value(doc.clone()) {
        Ok(c) => c,
        Err(e) => {
            let d = Diagnostic::new("", format!("config does not match its types: {e}"))
                .hint("run `sweeper schema` to see what each key takes");
            return Err(fail(vec![d], &text));
        }
    };

    // 5. Semantic checks.
    let mut warnings = Vec::new();
    semantic(&raw_cfg, top, &mut diags, &mut warnings, &at);

    let max_combinations =
        opts.max_combinations.or(raw_cfg.max_combinations).unwrap_or(DEFAULT_MAX_COMBINATIONS);
    let sweeps: Vec<(String, Vec<Value>)> = raw_cfg
        .sweeps
        .iter()
        .map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default()))
        .collect();
    // The product size, computed without overflow before anything is expanded.
    let mut product: u64 = raw_cfg.scenarios.len().max(1) as u64;
    for (_, v) in &sweeps {
        product = product.saturating_mul(v.len() as u64);
    }
    if let Some(cap) = opts.max_combinations.filter(|c| *c > HARD_MAX_COMBINATIONS) {
        diags.push(
            Diagnostic::new(
                "",
                format!(
                    "--max-combinations {cap} is more than sweeper plans ({HARD_MAX_COMBINATIONS})"
                ),
            )
            .hint("split the sweep into several configs (or shards)"),
        );
    }
    let per_combination = combination_bytes(top);
    let estimate = product.saturating_mul(per_combination);
    if product > max_combinations {
        let shown = if product == u64::MAX {
            "more than 18446744073709551615".into()
        } else {
            product.to_string()
        };
        diags.push(at(
            Diagnostic::new("/sweeps", format!("the sweep expands to {shown} combinations, more than the cap of {max_combinations}"))
                .hint("shorten the sweep lists, add `exclude` entries, or raise the cap with `max_combinations: N` or `--max-combinations N`"),
            true,
        ));
    } else if estimate > PLAN_MEMORY_BUDGET {
        diags.push(at(
            Diagnostic::new(
                "/sweeps",
                format!(
                    "the sweep is too large to plan: {product} combinations of about {} KiB each ({} MiB; sweeper plans at most {} MiB)",
                    per_combination / 1024,
                    estimate / (1024 * 1024),
                    PLAN_MEMORY_BUDGET / (1024 * 1024)
                ),
            )
            .hint("shorten the sweep lists or the values in base_config, or split the sweep into several configs"),
            true,
        ));
    }

    // Local paths in aiperf options: relative to where sweeper was started (as the NeMo runner,
    // which starts aiperf there); each must exist before anything starts.
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let resolved_paths = super::paths::resolve_all(top, &base_dir, |pointer, message| {
        diags.push(at(
            Diagnostic::new(pointer, message)
                .hint("fix the path, or run sweeper from the directory it is relative to"),
            false,
        ));
    });

    // Targets reference file, relative to the config file.
    let mut reference = None;
    if let Some(t) = &raw_cfg.targets
        && let Some(file) = &t.reference_file
    {
        let resolved = if file.is_absolute() {
            file.clone()
        } else {
            path.parent().unwrap_or(Path::new(".")).join(file)
        };
        match crate::reference::load(&resolved, t.model.as_deref(), t.device.as_deref()) {
            Ok(r) => reference = Some(r),
            Err(e) => {
                let pointer = match &e {
                    crate::reference::ReferenceError::NoSuch { what, .. }
                    | crate::reference::ReferenceError::Ambiguous { what, .. } => {
                        format!("/targets/{what}")
                    }
                    _ => "/targets/reference_file".to_owned(),
                };
                diags.push(at(Diagnostic::new(pointer, e.to_string()).hint(e.hint()), false));
            }
        }
    }

    let mut repeats = repeats(&raw_cfg, |d, key| diags.push(at(d, key)));
    let load_search = load_search(&raw_cfg, |d, key| diags.push(at(d, key)));
    // A search or an early stop decides each point from the ones before it: the repeats of a
    // point run back to back (interleaving would run later points before the decision).
    if load_search.is_some()
        && let Some(r) = repeats.as_mut()
        && r.order == crate::records::RepeatOrder::Interleaved
    {
        if top.get("repeats").and_then(|r| r.get("order")).is_some() {
            let section = if raw_cfg.search.is_some() { "search" } else { "stop_when" };
            diags.push(at(
                Diagnostic::new("/repeats/order", format!("`order: interleaved` cannot be used with `{section}`"))
                    .hint(format!("`{section}` decides each point from the ones before it, so the repeats of a point run back to back: write `order: back_to_back` (or leave `order` out)")),
                false,
            ));
        } else {
            r.order = crate::records::RepeatOrder::BackToBack;
        }
    }
    let tt_model_id = raw_cfg
        .tt
        .as_ref()
        .and_then(|tt| tt_model_id(tt, &raw_cfg, |d, key| diags.push(at(d, key))));

    if !diags.is_empty() {
        sort_dedup(&mut diags);
        return Err(fail(diags, &text));
    }
    let server_value = top.get("server").and_then(Value::as_object).cloned();
    Ok(Config {
        file: path.to_path_buf(),
        batch_name: raw_cfg.batch_name,
        output_base_dir: raw_cfg.output_base_dir,
        base: raw_cfg.base_config,
        sweeps,
        scenarios: raw_cfg.scenarios,
        exclude: raw_cfg.exclude,
        server: raw_cfg.server,
        server_value,
        aiperf: raw_cfg.aiperf,
        targets: raw_cfg.targets,
        reference,
        base_dir,
        resolved_paths,
        max_combinations,
        tt_model_id,
        repeats,
        load_search,
        index,
        warnings,
        source: text,
    })
}

/// The SLO keys of `slo` (at `pointer`), each checked against the metric table.
fn check_slo(
    slo: &std::collections::BTreeMap<String, f64>,
    pointer: &str,
    report: &mut impl FnMut(Diagnostic, bool),
) {
    use crate::config::locate::escape_segment;
    for k in slo.keys() {
        if crate::slo::Measure::parse(k).is_none() {
            let candidates = crate::slo::Measure::keys();
            let d = Diagnostic::new(
                format!("{pointer}/{}", escape_segment(k)),
                format!("unknown SLO key `{k}`"),
            );
            let d = match did_you_mean(k, &candidates) {
                Some(s) => d.hint(format!("did you mean `{s}`? SLO keys are `<metric>_<statistic>_<unit>` (`ttft_p99_ms`, `itl_avg_ms`), a throughput (`output_tok_s`) or `error_rate`")),
                None => d.hint("SLO keys are `<metric>_<statistic>_<unit>` (`ttft_p99_ms`, `itl_p90_ms`, `e2el_avg_ms`), a throughput (`output_tok_s`) or `error_rate`"),
            };
            report(d, true);
        }
    }
}

/// The `stop_when` or `search` section, checked against the sweeps.
fn load_search(
    raw: &super::raw::RawConfig,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<crate::records::LoadSearch> {
    use crate::records::{LoadSearch, SearchMode};
    if raw.stop_when.is_some() && raw.search.is_some() {
        report(
            Diagnostic::new("/search", "`search` and `stop_when` cannot be used together")
                .hint("`search` finds the limit by itself; keep one of the two"),
            true,
        );
        return None;
    }
    let swept: Vec<(String, String)> = raw
        .sweeps
        .keys()
        .map(|k| (canonical(k), format!("/sweeps/{}", crate::config::locate::escape_segment(k))))
        .chain(raw.scenarios.iter().enumerate().flat_map(|(i, s)| {
            s.keys().map(move |k| {
                (
                    canonical(k),
                    format!("/scenarios/{i}/{}", crate::config::locate::escape_segment(k)),
                )
            })
        }))
        .collect();
    if let Some(sw) = &raw.stop_when {
        let dim = canonical(&sw.dimension);
        let mut failed = false;
        let mut bad = |d: Diagnostic, key: bool| {
            failed = true;
            report(d, key);
        };
        match raw.sweeps.iter().find(|(k, _)| canonical(k) == dim) {
            None => bad(
                Diagnostic::new("/stop_when/dimension", format!("`{}` is not swept", sw.dimension))
                    .hint(format!(
                        "name a key of `sweeps` whose values are numbers ({})",
                        if raw.sweeps.is_empty() {
                            "this config sweeps nothing".to_owned()
                        } else {
                            raw.sweeps.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    )),
                false,
            ),
            Some((k, v)) => {
                if let Some(i) = v.as_array().and_then(|a| a.iter().position(|x| !x.is_number())) {
                    bad(
                        Diagnostic::new(
                            format!("/sweeps/{}/{i}", crate::config::locate::escape_segment(k)),
                            format!(
                                "`stop_when.dimension` is `{k}`, so its values must be numbers"
                            ),
                        )
                        .hint("an early stop runs the values in increasing order: give numbers"),
                        false,
                    );
                }
            }
        }
        if sw.slo.is_empty() && sw.saturation.is_none() {
            bad(
                Diagnostic::new("/stop_when", "`stop_when` needs an `slo` or a `saturation`")
                    .hint("e.g. `slo: {ttft_p99_ms: 2000}` or `saturation: {throughput_gain_below: 0.05}`"),
                true,
            );
        }
        check_slo(&sw.slo, "/stop_when/slo", &mut bad);
        if failed {
            return None;
        }
        return Some(LoadSearch {
            variable: raw.sweeps.keys().find(|k| canonical(k) == dim).cloned().unwrap_or(dim),
            slo: sw.slo.clone(),
            slo_on: sw.slo_on,
            mode: SearchMode::StopWhen {
                saturation: sw.saturation.as_ref().map(|s| s.throughput_gain_below),
            },
            groups: Vec::new(),
        });
    }
    let se = raw.search.as_ref()?;
    let var = se.variable.key();
    let mut ok = true;
    for (_, pointer) in swept.iter().filter(|(c, _)| c == var) {
        ok = false;
        report(
            Diagnostic::new(pointer.clone(), format!("`{var}` is both swept and searched"))
                .hint(format!("`search` chooses the values of `{var}` itself: remove it here (or drop `search` and use `stop_when` on the sweep)")),
            true,
        );
    }
    let integer = se.variable == super::raw::SearchVariable::Concurrency;
    if se.min.is_nan() || se.min <= 0.0 {
        ok = false;
        report(
            Diagnostic::new("/search/min", format!("{} is not above 0", se.min))
                .hint(format!("the search starts at `min` and doubles it: give a positive {var}")),
            false,
        );
    } else if se.min >= se.max {
        ok = false;
        report(
            Diagnostic::new(
                "/search/max",
                format!("`max` ({}) is not above `min` ({})", se.max, se.min),
            )
            .hint("the search runs between `min` and `max`: make `max` larger"),
            false,
        );
    }
    if integer {
        for (field, v) in [("min", se.min), ("max", se.max)] {
            if v.fract() != 0.0 {
                ok = false;
                report(
                    Diagnostic::new(
                        format!("/search/{field}"),
                        format!("concurrency {v} is not a whole number"),
                    )
                    .hint("concurrency counts requests in flight: give an integer"),
                    false,
                );
            }
        }
    }
    if se.slo.is_empty() {
        ok = false;
        report(
            Diagnostic::new("/search/slo", "a search needs at least one SLO")
                .hint("e.g. `slo: {ttft_p99_ms: 2000, error_rate: 0.01}`"),
            false,
        );
    }
    let mut bad = |d: Diagnostic, key: bool| {
        ok = false;
        report(d, key);
    };
    check_slo(&se.slo, "/search/slo", &mut bad);
    ok.then(|| LoadSearch {
        variable: var.to_owned(),
        slo: se.slo.clone(),
        slo_on: se.slo_on,
        mode: SearchMode::Search { min: se.min, max: se.max, resolution: se.resolution, integer },
        groups: Vec::new(),
    })
}

/// The repeats of every point: the `repeats` section, or aiperf's own `num_profile_runs` (>= 2)
/// in base_config (then back to back, at base_config's `confidence_level`). Both at once is an
/// error: they would multiply.
fn repeats(
    raw: &super::raw::RawConfig,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<crate::records::Repeats> {
    use crate::config::locate::escape_segment;
    let native = ["num_profile_runs", "confidence_level"];
    let mut places: Vec<(String, String)> = Vec::new();
    for (k, _) in &raw.base_config {
        places.push((canonical(k), format!("/base_config/{}", escape_segment(k))));
    }
    for (k, _) in &raw.sweeps {
        places.push((canonical(k), format!("/sweeps/{}", escape_segment(k))));
    }
    for (i, s) in raw.scenarios.iter().enumerate() {
        for k in s.keys() {
            places.push((canonical(k), format!("/scenarios/{i}/{}", escape_segment(k))));
        }
    }
    if let Some(r) = &raw.repeats {
        let mut clash = false;
        for (c, pointer) in places.iter().filter(|(c, _)| native.contains(&c.as_str())) {
            clash = true;
            report(
                Diagnostic::new(
                    pointer.clone(),
                    format!("`{c}` and the `repeats` section both set how points are repeated"),
                )
                .hint("keep `repeats` (`order: back_to_back` passes --num-profile-runs and --confidence-level to aiperf) and remove this key"),
                true,
            );
        }
        let r = r.resolve();
        return (!clash && r.count > 1).then_some(r);
    }
    let n = raw
        .base_config
        .iter()
        .find(|(k, _)| canonical(k) == "num_profile_runs")
        .and_then(|(_, v)| v.as_u64())
        .filter(|n| *n >= 2)?;
    let confidence = raw
        .base_config
        .iter()
        .find(|(k, _)| canonical(k) == "confidence_level")
        .and_then(|(_, v)| v.as_f64())
        .unwrap_or(crate::confidence::DEFAULT_CONFIDENCE);
    Some(crate::records::Repeats {
        count: u32::try_from(n).unwrap_or(u32::MAX),
        order: crate::records::RepeatOrder::BackToBack,
        confidence,
        noise_cv_max: super::raw::DEFAULT_NOISE_CV_MAX,
    })
}

/// tt-inference-server's model id from the `tt` section, its model and device defaulted from the
/// server and targets sections; problems go to `report` (diagnostic, at the key?).
fn tt_model_id(
    tt: &super::raw::TtConfig,
    raw: &super::raw::RawConfig,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<String> {
    let server = match &raw.server {
        Some(ServerConfig::TtInferenceServer { model, device, .. }) => {
            Some((model.as_str(), device.as_str()))
        }
        _ => None,
    };
    let targets = raw.targets.as_ref();
    let served = raw
        .base_config
        .get("model")
        .and_then(Value::as_str)
        .map(|m| m.rsplit('/').next().unwrap_or(m));
    // (value, where it came from)
    let model = tt
        .model
        .as_deref()
        .map(|m| (m, "/tt/model"))
        .or_else(|| server.map(|s| (s.0, "/server/model")))
        .or_else(|| targets.and_then(|t| t.model.as_deref()).map(|m| (m, "/targets/model")))
        .or_else(|| served.map(|m| (m, "/base_config/model")));
    let device = tt
        .device
        .as_deref()
        .map(|d| (d, "/tt/device"))
        .or_else(|| server.map(|s| (s.1, "/server/device")))
        .or_else(|| targets.and_then(|t| t.device.as_deref()).map(|d| (d, "/targets/device")));
    let mut ok = true;
    if let Some(p) = crate::tt::name_problem(&tt.impl_name) {
        report(
            Diagnostic::new("/tt/impl", format!("tt's implementation name: {p}")).hint(
                "use the impl name of tt-inference-server's model spec, e.g. `tt-transformers`",
            ),
            false,
        );
        ok = false;
    }
    match model {
        None => {
            report(
                Diagnostic::new("/tt", "tt's model name is not set and cannot be inferred")
                    .hint("set `tt.model` to the Hugging Face repo's basename, e.g. `Llama-3.3-70B-Instruct`"),
                true,
            );
            ok = false;
        }
        Some((m, at)) => {
            if let Some(p) = crate::tt::name_problem(m) {
                report(
                    Diagnostic::new(at, format!("tt's model name: {p}"))
                        .hint("set `tt.model` to the Hugging Face repo's basename, e.g. `Llama-3.3-70B-Instruct`"),
                    false,
                );
                ok = false;
            }
        }
    }
    match device {
        None => {
            report(
                Diagnostic::new("/tt", "tt's device is not set and cannot be inferred").hint(
                    format!("set `tt.device` to one of {}", crate::tt::NAME_DEVICES.join(", ")),
                ),
                true,
            );
            ok = false;
        }
        Some((d, at)) => {
            if let Some(p) = crate::tt::device_problem(d) {
                let hint = if at == "/tt/device" {
                    format!("use one of {}", crate::tt::NAME_DEVICES.join(", "))
                } else {
                    format!(
                        "the device comes from `{}`; set `tt.device` to one of {}",
                        at.trim_start_matches('/').replace('/', "."),
                        crate::tt::NAME_DEVICES.join(", ")
                    )
                };
                report(Diagnostic::new(at, p).hint(hint), false);
                ok = false;
            }
        }
    }
    match (ok, model, device) {
        (true, Some((m, _)), Some((d, _))) => Some(crate::tt::model_id(&tt.impl_name, m, d)),
        _ => None,
    }
}

/// The most combinations sweeper plans, whatever `max_combinations` says.
pub const HARD_MAX_COMBINATIONS: u64 = 100_000;

/// Memory a plan may take (estimated before anything is expanded, from the product and the
/// size of one combination): with the rest of a run's state, a planned sweep stays well under
/// 500 MB and plans in well under 2 s.
pub const PLAN_MEMORY_BUDGET: u64 = 300 * 1024 * 1024;

/// Estimated bytes of one planned combination: its merged config, argv and records, which grow
/// with base_config, the server section and the largest swept value. Calibrated on the plan
/// bench (about 4 KiB for a small config).
fn combination_bytes(top: &Map<String, Value>) -> u64 {
    let len = |k: &str| top.get(k).map_or(0, |v| v.to_string().len() as u64);
    let widest_values: u64 = top
        .get("sweeps")
        .and_then(Value::as_object)
        .map(|s| {
            s.values()
                .filter_map(Value::as_array)
                .map(|l| l.iter().map(|v| v.to_string().len() as u64).max().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    4096 + 3 * len("base_config") + 2 * len("server") + 3 * len("targets") + 4 * widest_values
}

fn sort_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| (a.pos, &a.pointer, &a.message).cmp(&(b.pos, &b.pointer, &b.message)));
    diags.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null (an empty value)",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn forbid_keys(
    work: &mut Value,
    pointer: &str,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) {
    let Some(map) = work.pointer_mut(pointer).and_then(Value::as_object_mut) else { return };
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        if let Some((_, why)) = FORBIDDEN_KEYS.iter().find(|(f, _)| *f == k.replace('-', "_")) {
            let p = format!("{pointer}/{}", escape_segment(&k));
            diags
                .push(at(Diagnostic::new(p, format!("`{k}` cannot be set here")).hint(*why), true));
            map.remove(&k);
        }
    }
}

/// Canonical keys that every combination sets (sweeps, or every scenario).
fn overridden_keys(top: &Map<String, Value>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    if let Some(s) = top.get("sweeps").and_then(Value::as_object) {
        out.extend(s.keys().map(|k| canonical(k)));
    }
    if let Some(list) = top.get("scenarios").and_then(Value::as_array)
        && !list.is_empty()
    {
        let mut common: Option<BTreeSet<String>> = None;
        for sc in list {
            let keys: BTreeSet<String> = sc
                .as_object()
                .map(|m| m.keys().map(|k| canonical(k)).collect())
                .unwrap_or_default();
            common = Some(match common {
                None => keys,
                Some(c) => c.intersection(&keys).cloned().collect(),
            });
        }
        out.extend(common.unwrap_or_default());
    }
    out
}

/// The keys allowed where an "unknown key" error was found, for "did you mean".
fn candidates_for(pointer: &str, work: &Value) -> Vec<String> {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    match segs.as_slice() {
        [] => schema_keys(""),
        ["base_config"] | ["sweeps"] | ["scenarios", _] | ["exclude", _] => {
            let mut v: Vec<String> = options::all_keys().collect();
            v.extend(SWEEPER_KEYS.iter().map(|(k, _)| (*k).to_owned()));
            v
        }
        ["server"] => {
            server_fields(work.pointer("/server/kind").and_then(Value::as_str).unwrap_or(""))
        }
        ["aiperf"] => schema_keys("/$defs/AiperfSettings"),
        ["targets"] => schema_keys("/$defs/TargetsConfig"),
        ["targets", "points", _] => schema_keys("/$defs/TargetPoint"),
        ["tt"] => schema_keys("/$defs/TtConfig"),
        ["repeats"] => schema_keys("/$defs/RepeatsSpec"),
        ["stop_when"] => schema_keys("/$defs/StopWhenConfig"),
        ["search"] => schema_keys("/$defs/SearchConfig"),
        _ => Vec::new(),
    }
}

/// The fields a server `kind` accepts (from the generated schema).
pub(crate) fn server_fields(kind: &str) -> Vec<String> {
    server_variant_schema(kind)
        .and_then(|s| {
            s.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect())
        })
        .unwrap_or_default()
}

fn server_variant_schema(kind: &str) -> Option<Value> {
    schema_value()
        .pointer("/$defs/ServerConfig/oneOf")?
        .as_array()?
        .iter()
        .find(|v| v.pointer("/properties/kind/const").and_then(Value::as_str) == Some(kind))
        .cloned()
}

const SERVER_KINDS: &[&str] = &["external", "command", "docker", "tt-inference-server", "mock"];

/// Best suggestions for `word` among `candidates`.
pub(crate) fn did_you_mean(word: &str, candidates: &[String]) -> Option<String> {
    let w = word.to_lowercase().replace('-', "_");
    let mut best: Option<(f64, &String)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&w, c);
        let close = strsim::damerau_levenshtein(&w, c) <= 2.max(w.len() / 5);
        if (score >= 0.88 || close) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.clone())
}

fn schema_diagnostic(
    e: &jsonschema::ValidationError<'_>,
    work: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let pointer = e.instance_path().as_str().to_owned();
    let instance = work.pointer(&pointer).unwrap_or(&Value::Null);
    let key_path = super::error::pointer_to_key_path(&pointer);
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|k| {
                let p = format!("{pointer}/{}", escape_segment(k));
                let candidates = candidates_for(&pointer, work);
                let mut d = Diagnostic::new(p.clone(), format!("unknown key `{k}`"));
                d = match did_you_mean(k, &candidates) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None if pointer.starts_with("/base_config") || pointer.starts_with("/sweeps") => d.hint(
                        "not an aiperf 0.13 `profile` option; pass other flags verbatim with `extra_args: [\"--flag\", \"value\"]`",
                    ),
                    None if pointer.starts_with("/sweeps") => d,
                    None => d.hint(format!("allowed here: {}", candidates.join(", "))),
                };
                d.at(index.key(&p))
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let prop = property.as_str().unwrap_or("?");
            let hint = match prop {
                "base_config" => "add `base_config:` with at least `model` and `url`",
                "kind" => "set `kind:` to one of external, command, docker, tt-inference-server, mock",
                "impl" => "set `impl:` to tt's implementation name of the model, e.g. `tt-transformers`",
                "count" => "set `count:` to how many times every point runs, e.g. `count: 3`",
                _ => "add the missing key",
            };
            vec![Diagnostic::new(pointer.clone(), format!("missing required key `{prop}`")).hint(hint).at(index.key(&pointer))]
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. }
            if pointer == "/server" =>
        {
            server_diagnostics(instance, index)
        }
        // `repeats` is a count or a mapping.
        ValidationErrorKind::AnyOf { .. } if pointer == "/repeats" => {
            let d = if instance.is_object() {
                let inner = def_diagnostics(&pointer, "#/$defs/RepeatsSpec", instance, index);
                if !inner.is_empty() {
                    return inner;
                }
                Diagnostic::new(pointer.clone(), e.to_string())
            } else if instance.is_u64() || instance.is_i64() {
                Diagnostic::new(pointer.clone(), format!("{instance} repeats: a count from 1 to 100 is expected"))
            } else {
                Diagnostic::new(pointer.clone(), format!("expected a count or a mapping, found {}", kind_of(instance)))
            };
            vec![d
                .hint("`repeats: 3`, or `repeats: {count: 3, order: interleaved | back_to_back, confidence: 0.95, noise_cv_max: 0.05}`")
                .at(index.value(&pointer))]
        }
        // An optional section (`targets: ...`) is "X or null": say what is wrong inside X.
        ValidationErrorKind::AnyOf { .. } if instance.is_object() => {
            let inner = optional_section_diagnostics(&pointer, instance, index);
            if inner.is_empty() {
                vec![Diagnostic::new(pointer.clone(), e.to_string()).at(index.value(&pointer))]
            } else {
                inner
            }
        }
        ValidationErrorKind::MinItems { limit } if pointer.starts_with("/sweeps/") && *limit == 1 => {
            vec![Diagnostic::new(pointer.clone(), "empty sweep list".to_owned())
                .hint("give at least one value, or remove the key from `sweeps`")
                .at(index.value(&pointer))]
        }
        _ => {
            let mut msg = e.to_string();
            if msg.len() > 300 {
                msg.truncate(300);
                msg.push_str("...");
            }
            let mut hint = value_hint(&pointer);
            // YAML 1.1 reads plain `y`, `n`, `yes`, `no`, `on`, `off` as booleans.
            if instance.is_boolean() && msg.contains("\"string\"") {
                hint = Some(format!(
                    "{}YAML reads unquoted y/n/yes/no/on/off as booleans: quote the value (`\"y\"`) to keep it a string",
                    hint.map(|h| format!("{h}; ")).unwrap_or_default()
                ));
            }
            let mut d = Diagnostic::new(pointer.clone(), format!("{msg} (found {})", kind_of(instance)));
            if let Some(h) = hint {
                d = d.hint(h);
            } else if key_path == "(document)" {
                d = d.hint("see `sweeper schema` for the config format");
            } else {
                d = d.hint(format!(
                    "see `sweeper schema` (or the README) for what `{key_path}` takes"
                ));
            }
            vec![d.at(index.value(&pointer))]
        }
    }
}

/// What a key takes, from the option table.
fn value_hint(pointer: &str) -> Option<String> {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    let key = match segs.as_slice() {
        ["sweeps", k] => {
            return Some(format!("a sweep is a non-empty list of values, e.g. `{k}: [1, 2, 4]`"));
        }
        ["batch_name"] => {
            return Some(
                "`batch_name` becomes a directory name: letters, digits, `.`, `_`, `-`".to_owned(),
            );
        }
        ["max_combinations"] => {
            return Some("`max_combinations` takes an integer >= 1".to_owned());
        }
        ["tt", "device"] => {
            return Some(format!(
                "one of the devices tt-inference-server's aiperf report reads back from file names: {}",
                crate::tt::NAME_DEVICES.join(", ")
            ));
        }
        ["tt", "impl" | "model"] => {
            return Some(
                "a plain name: letters, digits, `-`, `.`, `_` (e.g. `tt-transformers`, `Llama-3.3-70B-Instruct`)"
                    .to_owned(),
            );
        }
        ["search", "min" | "max"] => {
            return Some(
                "`search.min` and `search.max` bound the searched load: above 0, at most 1000000, `min` below `max`"
                    .to_owned(),
            );
        }
        ["search", "resolution"] => {
            return Some(
                "a fraction from 0.001 to 1: the search stops when the first failing value is within it of the last passing one (0.1 = 10%)"
                    .to_owned(),
            );
        }
        ["search" | "stop_when", "slo", k] => {
            return Some(format!("an SLO is an upper bound of 0 or more, e.g. `{k}: 2000`"));
        }
        ["base_config", "goodput", ..] => "goodput",
        ["base_config", k] | ["sweeps", k, _] | ["scenarios", _, k] | ["exclude", _, k] => *k,
        _ => return None,
    };
    match key {
        "api_key_env_var" => {
            return Some(
                "`api_key_env_var` takes the NAME of an environment variable (e.g. `NVIDIA_API_KEY`), not the key itself"
                    .to_owned(),
            );
        }
        "health_check_endpoint" => {
            return Some(
                "`health_check_endpoint` takes a path starting with `/`, e.g. `/v1/models`"
                    .to_owned(),
            );
        }
        "extra_args" => {
            return Some(
                "`extra_args` takes a list of strings, e.g. `[\"--flag\", \"value\"]`".to_owned(),
            );
        }
        _ => {}
    }
    let o = options::lookup(key)?;
    let takes = match o.kind {
        options::OptKind::Bool => "true or false".to_owned(),
        options::OptKind::Int { min } if min == i64::MIN => {
            format!("an integer of magnitude at most {}", super::raw::MAX_OPTION_INT)
        }
        options::OptKind::Int { min } => {
            format!("an integer from {min} to {}", super::raw::MAX_OPTION_INT)
        }
        options::OptKind::Number { min, exclusive: true } => format!("a number > {min}"),
        options::OptKind::Number { min, .. } if min == f64::MIN => "a number".to_owned(),
        options::OptKind::Number { min, .. } => format!("a number >= {min}"),
        options::OptKind::Str => "a string".to_owned(),
        options::OptKind::Enum(c) => format!("one of: {}", c.join(", ")),
        options::OptKind::List => "a string or a list of strings".to_owned(),
        options::OptKind::KeyValues => "a mapping (`{key: value}`) or a list of `key:value` strings".to_owned(),
        options::OptKind::Goodput => {
            "a mapping of metric tag to value (`{time_to_first_token: 25}`) or one string `'tag:value tag:value'`".to_owned()
        }
        options::OptKind::Scalar => "a number or a string".to_owned(),
    };
    Some(format!("`{key}` (aiperf --{}) takes {takes}", o.flags[0]))
}

/// Errors inside an optional top-level section, validated against its own definition rather
/// than as one branch of "definition or null" (whose error would only say "no branch matched").
fn optional_section_diagnostics(
    pointer: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let root = schema_value();
    let Some(section) = pointer.strip_prefix('/').filter(|s| !s.contains('/')) else {
        return Vec::new();
    };
    let def = root
        .pointer(&format!("/properties/{section}/anyOf"))
        .and_then(Value::as_array)
        .and_then(|branches| branches.iter().find_map(|b| b.get("$ref").and_then(Value::as_str)));
    let Some(def) = def else { return Vec::new() };
    def_diagnostics(pointer, def, instance, index)
}

/// The problems of `instance` (at `pointer`, a top-level section) against the schema's `def`
/// (`#/$defs/X`), each re-rooted under the section and described as any other.
fn def_diagnostics(
    pointer: &str,
    def: &str,
    instance: &Value,
    index: &LocationIndex,
) -> Vec<Diagnostic> {
    let root = schema_value();
    let Some(section) = pointer.strip_prefix('/').filter(|s| !s.contains('/')) else {
        return Vec::new();
    };
    let wrapper =
        serde_json::json!({ "$ref": def, "$defs": root.get("$defs").cloned().unwrap_or_default() });
    let Ok(v) = jsonschema::validator_for(&wrapper) else { return Vec::new() };
    let wrapped = serde_json::json!({ section: instance });
    let mut out = Vec::new();
    for e in v.iter_errors(instance) {
        let sub = e.instance_path().as_str().to_owned();
        // Re-root the error under the section, then describe it as any other.
        let mut ds = schema_diagnostic(&e, &wrapped[section], index);
        for d in &mut ds {
            let rel = d.pointer.strip_prefix(&sub).map(str::to_owned).unwrap_or_default();
            d.pointer = format!("{pointer}{sub}{rel}");
            let key_error =
                d.message.starts_with("unknown key") || d.message.starts_with("missing required");
            d.pos = if key_error { index.key(&d.pointer) } else { index.value(&d.pointer) };
            if d.message.starts_with("unknown key") {
                let key = d.pointer.rsplit('/').next().unwrap_or("").to_owned();
                let parent = &d.pointer[..d.pointer.len() - key.len() - 1];
                d.hint = Some(match did_you_mean(&key, &candidates_for(parent, &wrapped)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        format!("allowed here: {}", candidates_for(parent, &wrapped).join(", "))
                    }
                });
            } else if d.hint.is_none() {
                d.hint = value_hint(&d.pointer);
            }
        }
        out.extend(ds);
    }
    out
}

/// Precise errors for the `server` section: pick the variant by `kind`, validate against it.
fn server_diagnostics(instance: &Value, index: &LocationIndex) -> Vec<Diagnostic> {
    let kind = instance.get("kind").and_then(Value::as_str);
    let Some(kind) = kind else {
        return vec![
            Diagnostic::new("/server", "the server section needs a `kind`")
                .hint(format!("set `kind:` to one of: {}", SERVER_KINDS.join(", ")))
                .at(index.key("/server")),
        ];
    };
    let Some(variant) = server_variant_schema(kind) else {
        let mut d = Diagnostic::new("/server/kind", format!("unknown server kind `{kind}`"));
        let kinds: Vec<String> = SERVER_KINDS.iter().map(|s| (*s).to_owned()).collect();
        d = match did_you_mean(kind, &kinds) {
            Some(s) => d.hint(format!("did you mean `{s}`? kinds: {}", SERVER_KINDS.join(", "))),
            None => d.hint(format!("kinds: {}", SERVER_KINDS.join(", "))),
        };
        return vec![d.at(index.value("/server/kind"))];
    };
    let Ok(v) = jsonschema::validator_for(&variant) else { return Vec::new() };
    let mut out = Vec::new();
    for e in v.iter_errors(instance) {
        // Re-root the paths under /server.
        let sub = schema_diagnostic(&e, instance, index);
        for mut d in sub {
            let rel = d.pointer.clone();
            d.pointer = if rel.starts_with("/server") { rel } else { format!("/server{rel}") };
            if matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }) {
                let key = d.pointer.rsplit('/').next().unwrap_or("").to_owned();
                let fields = server_fields(kind);
                d.hint = Some(match did_you_mean(&key, &fields) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("a `{kind}` server takes: {}", fields.join(", ")),
                });
            }
            d.pos = if matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }) {
                index.key(&d.pointer)
            } else {
                index.value(&d.pointer)
            };
            out.push(d);
        }
    }
    out
}

/// Out-of-range settings of a server section: its `*_s` durations, and for `kind: mock` every
/// parameter the mock server would refuse at start-up.
fn server_problems(server: &ServerConfig) -> Vec<(&'static str, String)> {
    let secs: Vec<(&'static str, f64)> = match server {
        ServerConfig::External { startup_timeout_s, .. } => {
            vec![("startup_timeout_s", *startup_timeout_s)]
        }
        ServerConfig::Command { startup_timeout_s, stop_grace_s, .. }
        | ServerConfig::Docker { startup_timeout_s, stop_grace_s, .. }
        | ServerConfig::TtInferenceServer { startup_timeout_s, stop_grace_s, .. } => {
            vec![("startup_timeout_s", *startup_timeout_s), ("stop_grace_s", *stop_grace_s)]
        }
        ServerConfig::Mock(p) => return p.problems(),
    };
    secs.into_iter()
        .filter_map(|(f, v)| durations::check_seconds(v).err().map(|m| (f, m)))
        .collect()
}

fn server_hint(field: &str) -> String {
    if field.ends_with("_s") {
        "give a number of seconds, at most 31536000 (one year)".into()
    } else {
        format!(
            "see `{field}` in the mock server's parameters (README, `sweeper mock-server --help`)"
        )
    }
}

/// Two spellings of one option in one mapping (`isl` and `prompt_input_tokens_mean`).
fn alias_duplicates(
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) {
    let mut check = |map: &Map<String, Value>, pointer: &str| {
        let mut seen: HashMap<String, String> = HashMap::new();
        for k in map.keys() {
            let c = canonical(k);
            if let Some(first) = seen.get(&c) {
                let p = format!("{pointer}/{}", escape_segment(k));
                diags.push(at(
                    Diagnostic::new(
                        p,
                        format!(
                            "`{k}` and `{first}` set the same aiperf option (`--{}`)",
                            c.replace('_', "-")
                        ),
                    )
                    .hint("keep one of them"),
                    true,
                ));
            } else {
                seen.insert(c, k.clone());
            }
        }
    };
    for section in ["base_config", "sweeps"] {
        if let Some(m) = top.get(section).and_then(Value::as_object) {
            check(m, &format!("/{section}"));
        }
    }
    for (i, s) in top.get("scenarios").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(m) = s.as_object() {
            check(m, &format!("/scenarios/{i}"));
        }
    }
}

/// Checks the schema cannot express.
fn semantic(
    cfg: &RawConfig,
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) {
    // Repeated values in one sweep list would run the same point twice into one directory.
    // Linear: each value's canonical key goes into a set (`1` and `1.0` are one point).
    for (k, v) in &cfg.sweeps {
        let Some(list) = v.as_array() else { continue };
        let mut seen = std::collections::HashSet::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            if !seen.insert(super::value_key(item)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/sweeps/{}/{i}", escape_segment(k)),
                        format!("`{item}` is listed twice in sweep `{k}`"),
                    )
                    .hint("remove the repeated value"),
                    false,
                ));
            }
        }
    }

    // Scenarios: no duplicates, no key that a sweep also sets (which would win is unclear).
    let sweep_keys: BTreeSet<String> = cfg.sweeps.keys().map(|k| canonical(k)).collect();
    for (i, s) in cfg.scenarios.iter().enumerate() {
        if s.is_empty() {
            diags.push(at(
                Diagnostic::new(format!("/scenarios/{i}"), "empty scenario")
                    .hint("give it at least one key, or remove it"),
                false,
            ));
        }
        if cfg.scenarios[..i].iter().any(|o| o == s) {
            diags.push(at(
                Diagnostic::new(format!("/scenarios/{i}"), "this scenario repeats an earlier one")
                    .hint("remove it"),
                false,
            ));
        }
        for k in s.keys() {
            if sweep_keys.contains(&canonical(k)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/scenarios/{i}/{}", escape_segment(k)),
                        format!("`{k}` is set both by this scenario and by `sweeps`"),
                    )
                    .hint("set it in one place: either each scenario or the sweep"),
                    true,
                ));
            }
        }
    }

    // Exclude entries may only name keys that vary.
    let mut varying: BTreeSet<String> = sweep_keys.clone();
    for s in &cfg.scenarios {
        varying.extend(s.keys().map(|k| canonical(k)));
    }
    for (i, ex) in cfg.exclude.iter().enumerate() {
        if ex.is_empty() {
            diags.push(at(
                Diagnostic::new(
                    format!("/exclude/{i}"),
                    "empty exclude entry would drop every combination",
                )
                .hint("name the key/values to drop"),
                false,
            ));
        }
        for k in ex.keys() {
            if !varying.contains(&canonical(k)) {
                diags.push(at(
                    Diagnostic::new(
                        format!("/exclude/{i}/{}", escape_segment(k)),
                        format!("`{k}` is not swept, so excluding on it drops all or nothing"),
                    )
                    .hint(format!(
                        "exclude on swept keys: {}",
                        varying.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                    true,
                ));
            }
        }
    }

    // server.* sweeps: the field must exist for the kind, each value must be valid.
    let server_obj = top.get("server").and_then(Value::as_object);
    for (k, v) in &cfg.sweeps {
        let Some(field) = k.strip_prefix("server.") else { continue };
        let p = format!("/sweeps/{}", escape_segment(k));
        let Some(server) = server_obj else {
            diags.push(at(
                Diagnostic::new(
                    p,
                    format!("`{k}` sweeps a server setting, but there is no `server` section"),
                )
                .hint("add a `server:` section (e.g. `kind: mock`)"),
                true,
            ));
            continue;
        };
        let kind = server.get("kind").and_then(Value::as_str).unwrap_or("");
        let fields = server_fields(kind);
        if field == "kind" || !fields.iter().any(|f| f == field) {
            let mut d = Diagnostic::new(p, format!("a `{kind}` server has no setting `{field}`"));
            d = match did_you_mean(field, &fields) {
                Some(s) if s != "kind" => d.hint(format!("did you mean `server.{s}`?")),
                _ => d.hint(format!(
                    "sweepable settings: {}",
                    fields.iter().filter(|f| *f != "kind").cloned().collect::<Vec<_>>().join(", ")
                )),
            };
            diags.push(at(d, true));
            continue;
        }
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            let mut merged = server.clone();
            merged.insert(field.to_owned(), item.clone());
            match serde_json::from_value::<ServerConfig>(Value::Object(merged)) {
                Err(e) => diags.push(at(
                    Diagnostic::new(
                        format!("{p}/{i}"),
                        format!("invalid value for `server.{field}`: {e}"),
                    )
                    .hint("see the `server` section of `sweeper schema`"),
                    false,
                )),
                Ok(s) => {
                    for (f, msg) in server_problems(&s).into_iter().filter(|(f, _)| *f == field) {
                        diags.push(at(
                            Diagnostic::new(format!("{p}/{i}"), format!("`server.{f}`: {msg}"))
                                .hint(server_hint(f)),
                            false,
                        ));
                    }
                }
            }
        }
    }

    // Durations and the mock server's parameters: checked now, so nothing out of range
    // reaches the run (where it could only fail, or panic converting to a Duration).
    if let Some(server) = &cfg.server {
        for (field, msg) in server_problems(server) {
            let pointer = format!("/server/{field}");
            diags.push(at(Diagnostic::new(pointer, msg).hint(server_hint(field)), false));
        }
    }
    for (field, v) in [
        ("run_timeout_s", cfg.aiperf.run_timeout_s),
        ("stop_grace_s", Some(cfg.aiperf.stop_grace_s)),
    ] {
        if let Some(v) = v
            && let Err(msg) = durations::check_seconds(v)
        {
            diags.push(at(
                Diagnostic::new(format!("/aiperf/{field}"), msg)
                    .hint("give a number of seconds, at most 31536000 (one year)"),
                false,
            ));
        }
    }

    // Contradictions that do not depend on the combination.
    let base = &cfg.base_config;
    let get = |k: &str| {
        base.iter().find(|(bk, _)| canonical(bk) == canonical(k)).map(|(bk, v)| (bk.clone(), v))
    };
    if let Some(ServerConfig::Mock(_)) = &cfg.server
        && let Some((k, _)) = get("url")
    {
        diags.push(at(
            Diagnostic::new(format!("/base_config/{k}"), "`url` cannot be set with `server: {kind: mock}`")
                .hint("remove it: sweeper starts the mock server on a free port of 127.0.0.1 and points aiperf at it"),
            true,
        ));
    }
    let has_url = get("url").is_some()
        || sweep_keys.contains(&canonical("url"))
        || matches!(cfg.server, Some(ServerConfig::Mock(_)))
        || matches!(&cfg.server, Some(ServerConfig::External { url: Some(_), .. }))
        || matches!(
            &cfg.server,
            Some(
                ServerConfig::Command { .. }
                    | ServerConfig::Docker { .. }
                    | ServerConfig::TtInferenceServer { .. }
            )
        );
    if !has_url {
        diags.push(at(
            Diagnostic::new("/base_config", "missing `url`: sweeper needs to know which server to benchmark")
                .hint("add `url: http://HOST:PORT` to base_config, or a `server:` section (`kind: mock` to rehearse locally)"),
            true,
        ));
    }
    let has_model = get("model_names").is_some()
        || sweep_keys.contains(&canonical("model"))
        || cfg.scenarios.iter().all(|s| s.keys().any(|k| canonical(k) == "model_names"))
            && !cfg.scenarios.is_empty();
    if !has_model {
        diags.push(at(
            Diagnostic::new("/base_config", "missing `model`: aiperf needs the model name to put in each request")
                .hint("add `model: NAME` to base_config (the name the server serves, e.g. `meta/llama-3.3-70b-instruct`)"),
            true,
        ));
    }
    if let Some(ServerConfig::External { url: Some(u), .. }) = &cfg.server
        && let Some((k, Value::String(bu))) = get("url")
        && bu.trim_end_matches('/') != u.trim_end_matches('/')
    {
        warnings.push(at(
            Diagnostic::new(
                format!("/base_config/{k}"),
                format!("aiperf will benchmark `{bu}` but sweeper checks the health of `{u}`"),
            )
            .hint("make them the same unless a proxy sits in between"),
            false,
        ));
    }
    if let Some((k, Value::String(var))) = get("api_key_env_var")
        && std::env::var_os(var).is_none_or(|v| v.is_empty())
    {
        let what = if std::env::var_os(var).is_some() { "is empty" } else { "is not set" };
        warnings.push(at(
            Diagnostic::new(
                format!("/base_config/{k}"),
                format!("environment variable `{var}` {what}"),
            )
            .hint(format!(
                "`export {var}=...` before running; the run refuses to start without it"
            )),
            false,
        ));
    }
}
