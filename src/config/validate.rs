//! Validation, step by step: YAML parse (with budgets), the JSON Schema, the semantic checks that
//! a schema cannot express ([`super::semantic`]), then the sweep's size, the local paths, the
//! reference file, repeats and the load search. Collects every problem before giving up.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{ConfigError, Diagnostic};
use super::locate::{LocationIndex, Pos, escape_segment};
use super::raw::{FORBIDDEN_KEYS, RawConfig, ServerConfig};
use super::schema_check::{kind_of, schema_diagnostic};
use super::schema_cut::validator_for;
use super::semantic::semantic;
use super::{Config, DEFAULT_MAX_COMBINATIONS, LoadOptions};
use crate::model::options::canonical;

/// Parses and validates config `text` from `path`: every problem at once, or the `Config`.
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
    let doc = parse_yaml(&text).map_err(|d| fail(vec![d], &text))?;
    let index = LocationIndex::build(&text);
    let at = |d: Diagnostic, key: bool| {
        let pos = if key { index.key(&d.pointer) } else { index.value(&d.pointer) };
        d.at(pos)
    };
    let Some(top) = doc.as_object() else {
        return Err(fail(vec![at(not_a_mapping(&doc), false)], &text));
    };
    let mut diags = schema_problems(&doc, top, &index, &at);
    if !diags.is_empty() {
        sort_dedup(&mut diags);
        return Err(fail(diags, &text));
    }
    // Step 4, the typed view (cannot fail after the schema, but never panic if it does).
    let raw_cfg: RawConfig = serde_json::from_value(doc.clone()).map_err(|e| {
        let d = Diagnostic::new("", format!("config does not match its types: {e}"))
            .hint("run `sweeper schema` to see what each key takes");
        fail(vec![d], &text)
    })?;

    // Step 5, the semantic checks, then the size, paths, reference file, repeats and search.
    let mut warnings = Vec::new();
    semantic(&raw_cfg, top, &mut diags, &mut warnings, &at);
    let max_combinations =
        opts.max_combinations.or(raw_cfg.max_combinations).unwrap_or(DEFAULT_MAX_COMBINATIONS);
    check_size(&raw_cfg, top, opts, max_combinations, &mut diags, &at);
    let (base_dir, resolved_paths) = resolve_paths(top, &mut diags, &at);
    let reference = load_reference(path, &raw_cfg, &mut diags, &at);
    let (repeats, load_search) = repeats_and_search(&raw_cfg, top, &mut diags, &at);
    super::ab::check(&raw_cfg, repeats.as_ref(), |d, key| diags.push(at(d, key)));
    let tt_model_id = raw_cfg.tt.as_ref().and_then(|tt| {
        crate::tt::spec::model_id(tt, &tt_sources(&raw_cfg), |d, key| diags.push(at(d, key)))
    });
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
        sweeps: raw_cfg
            .sweeps
            .into_iter()
            .map(|(k, v)| (k, v.as_array().cloned().unwrap_or_default()))
            .collect(),
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
        cost: raw_cfg.cost,
        repeats,
        load_search,
        ab: raw_cfg.ab,
        index,
        warnings,
        source: text,
    })
}

/// Local paths in aiperf options: relative to where sweeper was started (as the NeMo runner,
/// which starts aiperf there); each must exist before anything starts. Returns that directory
/// and every path value -> the absolute path aiperf gets.
fn resolve_paths(
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) -> (PathBuf, BTreeMap<String, PathBuf>) {
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let resolved_paths = super::paths::resolve_all(top, &base_dir, |pointer, message| {
        diags.push(at(
            Diagnostic::new(pointer, message)
                .hint("fix the path, or run sweeper from the directory it is relative to"),
            false,
        ));
    });
    (base_dir, resolved_paths)
}

/// Step 1, the YAML with budgets: depth, node count and alias expansion are bounded ("billion
/// laughs" fails fast), and a duplicate key is an error rather than a silent overwrite.
fn parse_yaml(text: &str) -> Result<Value, Diagnostic> {
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
    serde_saphyr::from_str_with_options::<Value>(text, yaml_opts).map_err(|e| {
        let pos = e.location().map(|l| Pos { line: l.line() as usize, col: l.column() as usize });
        let msg = e.without_snippet().to_string();
        yaml_diagnostic(text, pos, msg.lines().next().unwrap_or("invalid YAML"))
    })
}

/// The diagnostic of a YAML error `msg` at `pos`, with a hint by its cause.
fn yaml_diagnostic(text: &str, pos: Option<Pos>, msg: &str) -> Diagnostic {
    let non_finite = msg.contains("non-finite");
    let hint = if non_finite {
        "non-finite numbers (`.inf`, `.nan`) are not allowed: write a finite number; for aiperf's unlimited grace period write the string `inf`"
    } else if msg.contains("duplicate") {
        "each key may appear once per mapping; remove or rename the repeated one"
    } else if msg.to_lowercase().contains("budget") || msg.to_lowercase().contains("alias") {
        "the document is too deep, too large or expands too many aliases for a config"
    } else {
        "fix the YAML syntax (indentation, quotes, `key: value` pairs)"
    };
    // The key path nearest the error, from what parsed before it.
    let pointer = pos.map(|p| LocationIndex::build(text).path_at(p)).unwrap_or_default();
    let d = if non_finite {
        let key = super::error::pointer_to_key_path(&pointer);
        Diagnostic::new(pointer, format!("`{key}` is not a finite number: {msg}"))
    } else {
        Diagnostic::new(pointer, format!("invalid YAML: {msg}"))
    };
    d.at(pos).hint(hint)
}

/// A document that is not a mapping of config keys.
fn not_a_mapping(doc: &Value) -> Diagnostic {
    Diagnostic::new("", format!("expected a mapping of config keys, found {}", kind_of(doc))).hint(
        "start from aiperf_configs/quickstart.yaml: `batch_name`, `base_config`, `sweeps`, ...",
    )
}

/// Steps 2 and 3: the keys sweeper forbids, two spellings of one option, then every violation
/// of the schema at once.
fn schema_problems(
    doc: &Value,
    top: &Map<String, Value>,
    index: &LocationIndex,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) -> Vec<Diagnostic> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    // Keys sweeper forbids (secrets, what it sets itself), reported with the reason, then
    // removed so the schema does not report them again as unknown.
    let mut work = doc.clone();
    for section in ["base_config", "sweeps"] {
        forbid_keys(&mut work, &format!("/{section}"), &mut diags, at);
    }
    for section in ["scenarios", "exclude"] {
        let n = work.get(section).and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..n {
            forbid_keys(&mut work, &format!("/{section}/{i}"), &mut diags, at);
        }
    }
    // Placeholders: a base_config key that every combination overrides (by a sweep or by every
    // scenario) is never used, so `concurrency: 0  # Overridden by sweep` is fine.
    let overridden = overridden_keys(top);
    if let Some(base) = work.get_mut("base_config").and_then(Value::as_object_mut) {
        base.retain(|k, _| !overridden.contains(&canonical(k)));
    }
    alias_duplicates(top, &mut diags, at);
    match validator_for(&work) {
        Ok(validator) => {
            for e in validator.iter_errors(&work) {
                diags.extend(schema_diagnostic(&e, &work, index));
            }
        }
        Err(e) => diags
            .push(Diagnostic::new("", format!("internal error: the schema does not compile: {e}"))),
    }
    diags
}

/// The size of the sweep: `--max-combinations` within what sweeper plans, the product within
/// the cap, and the plan within its memory budget (all computed before anything is expanded).
fn check_size(
    raw_cfg: &RawConfig,
    top: &Map<String, Value>,
    opts: &LoadOptions,
    max_combinations: u64,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) {
    // The product size, computed without overflow.
    let mut product: u64 = raw_cfg.scenarios.len().max(1) as u64;
    for v in raw_cfg.sweeps.values() {
        product = product.saturating_mul(v.as_array().map_or(0, Vec::len) as u64);
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
}

/// The targets' reference file, relative to the config file at `path`.
fn load_reference(
    path: &Path,
    raw_cfg: &RawConfig,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) -> Option<crate::tt::reference::Reference> {
    let t = raw_cfg.targets.as_ref()?;
    let file = t.reference_file.as_ref()?;
    let resolved = if file.is_absolute() {
        file.clone()
    } else {
        path.parent().unwrap_or(Path::new(".")).join(file)
    };
    match crate::tt::reference::load(&resolved, t.model.as_deref(), t.device.as_deref()) {
        Ok(r) => Some(r),
        Err(e) => {
            let pointer = match &e {
                crate::tt::reference::ReferenceError::NoSuch { what, .. }
                | crate::tt::reference::ReferenceError::Ambiguous { what, .. } => {
                    format!("/targets/{what}")
                }
                _ => "/targets/reference_file".to_owned(),
            };
            diags.push(at(Diagnostic::new(pointer, e.to_string()).hint(e.hint()), false));
            None
        }
    }
}

/// The repeats of every point and the load search (`stop_when` or `search`). A search or an
/// early stop decides each point from the ones before it: the repeats of a point then run back
/// to back (interleaving would run later points before the decision).
fn repeats_and_search(
    raw_cfg: &RawConfig,
    top: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
    at: &impl Fn(Diagnostic, bool) -> Diagnostic,
) -> (Option<crate::records::Repeats>, Option<crate::records::LoadSearch>) {
    let mut repeats = repeats(raw_cfg, |d, key| diags.push(at(d, key)));
    let sections = crate::search::spec::Sections {
        sweeps: &raw_cfg.sweeps,
        scenarios: &raw_cfg.scenarios,
        stop_when: raw_cfg.stop_when.as_ref(),
        search: raw_cfg.search.as_ref(),
    };
    let load_search = crate::search::spec::load_search(&sections, |d, key| diags.push(at(d, key)));
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
    (repeats, load_search)
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
        .unwrap_or(crate::stats::confidence::DEFAULT_CONFIDENCE);
    Some(crate::records::Repeats {
        count: u32::try_from(n).unwrap_or(u32::MAX),
        order: crate::records::RepeatOrder::BackToBack,
        confidence,
        noise_cv_max: super::raw::DEFAULT_NOISE_CV_MAX,
    })
}

/// Where the `tt` section's model and device can be inferred from.
fn tt_sources(raw: &RawConfig) -> crate::tt::spec::Inferred<'_> {
    crate::tt::spec::Inferred {
        server: match &raw.server {
            Some(ServerConfig::TtInferenceServer { model, device, .. }) => {
                Some((model.as_str(), device.as_str()))
            }
            _ => None,
        },
        targets_model: raw.targets.as_ref().and_then(|t| t.model.as_deref()),
        targets_device: raw.targets.as_ref().and_then(|t| t.device.as_deref()),
        served: raw
            .base_config
            .get("model")
            .and_then(Value::as_str)
            .map(|m| m.rsplit('/').next().unwrap_or(m)),
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
