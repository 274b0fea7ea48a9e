//! Expand a validated config into combinations, each with its index, directory, merged config,
//! server group, targets and exact aiperf argv. Pure: no I/O, no processes.
//!
//! Order (pinned by tests): scenarios are the outermost dimension, then the `sweeps` keys in
//! file order, the last key varying fastest (as `itertools::multi_cartesian_product`).
//! Excluded combinations are dropped before indices are assigned, so indices are 0..N-1.

pub mod argv;
pub mod id;
pub mod server;

use std::collections::BTreeMap;

use itertools::Itertools;
use serde_json::{Map, Value};

use crate::config::locate::escape_segment;
use crate::config::{Config, ConfigError, Diagnostic, ServerConfig, values_equal};
use crate::model::options::canonical;
use crate::records::{
    LoadSearch, Params, Probe, RepeatOrder, SearchGroup, SearchMode, TargetCheck,
};
pub use argv::{Arg, ArgContext};

/// One point of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Combination {
    pub index: usize,
    /// Directory name inside the batch dir; empty for a single un-swept run.
    pub dir: String,
    /// Swept keys (as written) -> values.
    pub params: Params,
    /// base_config with this combination's values applied.
    pub merged: Map<String, Value>,
    /// The server of this combination (`None`: external at the base URL).
    pub server: Option<ServerConfig>,
    /// Combinations with equal `server_id` share one server process.
    pub server_id: String,
    /// aiperf arguments after the program.
    pub args: Vec<Arg>,
    /// Settings sweeper added to `merged` because the config left them out (the NeMo runner's
    /// defaults where they change what aiperf measures): (key, value, why).
    pub applied_defaults: Vec<(String, Value, &'static str)>,
    pub targets: Vec<TargetCheck>,
    /// Interleaved repeats: which repeat of its point this is (1-based).
    pub repeat: Option<u32>,
    /// The point it measures (0..P in expansion order; without interleaved repeats, `index`).
    pub point: usize,
    /// A probe of a `search` (decided while running).
    pub probe: Option<crate::records::Probe>,
}

impl Combination {
    /// The base URL aiperf is pointed at (`None` for the mock server until it starts).
    pub fn url(&self) -> Option<String> {
        self.merged
            .iter()
            .find(|(k, _)| canonical(k) == "url")
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .or_else(|| server_url(self.server.as_ref()))
    }

    /// A value of the merged config by any alias of its key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let c = canonical(key);
        self.merged.iter().find(|(k, _)| canonical(k) == c).map(|(_, v)| v)
    }
}

pub use crate::records::describe_params;

/// The URL a server section declares.
pub fn server_url(server: Option<&ServerConfig>) -> Option<String> {
    match server? {
        ServerConfig::External { url, .. } => url.clone(),
        ServerConfig::Command { url, .. }
        | ServerConfig::Docker { url, .. }
        | ServerConfig::TtInferenceServer { url, .. } => Some(url.clone()),
        ServerConfig::Mock(_) => None,
    }
}

/// The expanded sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    pub combinations: Vec<Combination>,
    /// Keys that vary (scenario keys, then sweep keys), in first-seen order.
    pub swept_keys: Vec<String>,
    /// Problems that do not stop the run (an exclude entry that matches nothing, ...).
    pub warnings: Vec<Diagnostic>,
    /// tt-inference-server's model id the result files are named with (config `tt` section).
    pub tt_model_id: Option<String>,
    /// Repeats of every point (`None`: once).
    pub repeats: Option<crate::records::Repeats>,
    /// `stop_when` or `search`, with its groups.
    pub load_search: Option<LoadSearch>,
    /// `search`: one template per group (every setting but the searched variable); probes are
    /// made from them while running ([`probe`]). `combinations` is then empty.
    pub templates: Vec<Combination>,
}

impl Plan {
    /// Every combination and every search template: what runs may be made of (their servers,
    /// API keys, tokenizers).
    pub fn all(&self) -> impl Iterator<Item = &Combination> {
        self.combinations.iter().chain(&self.templates)
    }

    /// `6 combinations`, or for a search `2 search groups (at most 18 runs)`.
    pub fn size_text(&self) -> String {
        let n = self.combinations.len();
        match &self.load_search {
            Some(ls @ LoadSearch { mode: SearchMode::Search { .. }, .. }) => {
                let g = self.templates.len();
                format!(
                    "{g} search group{} (at most {} runs)",
                    if g == 1 { "" } else { "s" },
                    crate::search::probe::max_probes(ls.mode) * g
                )
            }
            _ => format!("{n} combination{}", if n == 1 { "" } else { "s" }),
        }
    }

    /// Indices in run order: grouped by server (first appearance order), expansion order inside
    /// a group, so a server is started once per distinct setting; with interleaved repeats,
    /// repeat 1 of every point of the group, then repeat 2, ...; with `stop_when`, ladder after
    /// ladder, each in increasing order of its dimension. Indices do not change.
    pub fn run_order(&self) -> Vec<usize> {
        let ladder_rank: std::collections::HashMap<usize, (usize, usize)> = match &self.load_search
        {
            Some(LoadSearch { mode: SearchMode::StopWhen { .. }, groups, .. }) => groups
                .iter()
                .enumerate()
                .flat_map(|(g, l)| l.members.iter().enumerate().map(move |(r, m)| (*m, (g, r))))
                .collect(),
            _ => Default::default(),
        };
        by_server(&self.combinations)
            .into_iter()
            .flat_map(|mut v| {
                v.sort_by_key(|c| {
                    ladder_rank
                        .get(&c.index)
                        .copied()
                        .unwrap_or((c.repeat.unwrap_or(0) as usize, c.index))
                });
                v.into_iter().map(|c| c.index)
            })
            .collect()
    }

    /// A search's groups (template indices) in run order: grouped by server.
    pub fn search_order(&self) -> Vec<usize> {
        by_server(&self.templates).into_iter().flatten().map(|t| t.index).collect()
    }

    /// Server ids in order of first appearance (server-2 before server-10).
    pub fn server_ids(&self) -> Vec<&str> {
        by_server(self.all()).into_iter().map(|v| v[0].server_id.as_str()).collect()
    }
}

/// `items` grouped by server, servers in order of first appearance, items in their order.
fn by_server<'a>(items: impl IntoIterator<Item = &'a Combination>) -> Vec<Vec<&'a Combination>> {
    let mut groups: Vec<Vec<&Combination>> = Vec::new();
    for c in items {
        match groups.iter_mut().find(|g| g[0].server_id == c.server_id) {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    groups
}

/// One value of one dimension: the (key, value) pairs it sets, and where it is written.
type Point = (Vec<(String, Value)>, String);

/// Expands `config`. Fails (with every problem) when a merged combination is contradictory.
pub fn expand(config: &Config) -> Result<Plan, ConfigError> {
    let mut dims: Vec<Vec<Point>> = Vec::new();
    let mut swept_keys: Vec<String> = Vec::new();
    if !config.scenarios.is_empty() {
        let dim = config
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (s.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), format!("/scenarios/{i}"))
            })
            .collect();
        for s in &config.scenarios {
            for k in s.keys() {
                if !swept_keys.contains(k) {
                    swept_keys.push(k.clone());
                }
            }
        }
        dims.push(dim);
    }
    for (k, values) in &config.sweeps {
        swept_keys.push(k.clone());
        let p = format!("/sweeps/{}", escape_segment(k));
        dims.push(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (vec![(k.clone(), v.clone())], format!("{p}/{i}")))
                .collect(),
        );
    }
    let points: Vec<Vec<Point>> = if dims.is_empty() {
        vec![Vec::new()]
    } else {
        dims.into_iter().multi_cartesian_product().collect()
    };

    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut exclude_hits = vec![0usize; config.exclude.len()];
    let mut combinations = Vec::with_capacity(points.len());
    let mut server_ids: Vec<Value> = Vec::new();
    for point in points {
        let pairs: Vec<(&String, &Value, &String)> =
            point.iter().flat_map(|(kv, src)| kv.iter().map(move |(k, v)| (k, v, src))).collect();
        if let Some(i) = config.exclude.iter().position(|ex| excluded(ex, &pairs)) {
            exclude_hits[i] += 1;
            continue;
        }
        let mut params = Params::new();
        let mut merged = config.base.clone();
        let mut server_value = config.server_value.clone();
        for (k, v, _) in &pairs {
            params.insert((*k).clone(), (*v).clone());
            if let Some(field) = k.strip_prefix("server.") {
                if let Some(s) = server_value.as_mut() {
                    s.insert(field.to_owned(), (*v).clone());
                }
                continue;
            }
            let c = canonical(k);
            if !merged.contains_key(k.as_str()) {
                merged.retain(|bk, _| canonical(bk) != c);
            }
            merged.insert((*k).clone(), (*v).clone());
        }
        let server: Option<ServerConfig> = match &server_value {
            Some(v) => match serde_json::from_value(Value::Object(v.clone())) {
                Ok(s) => Some(s),
                Err(e) => {
                    diags.push(Diagnostic::new("/server", format!("invalid server settings: {e}")));
                    continue;
                }
            },
            None => None,
        };
        let key = server_value.clone().map(Value::Object).unwrap_or(Value::Null);
        let group = match server_ids.iter().position(|s| *s == key) {
            Some(i) => i,
            None => {
                server_ids.push(key);
                server_ids.len() - 1
            }
        };
        let mut applied_defaults = apply_nemo_defaults(&mut merged);
        if let Some(r) = config.repeats.filter(|r| r.order == RepeatOrder::BackToBack)
            && !merged.keys().any(|k| canonical(k) == "num_profile_runs")
        {
            for (k, v) in [
                ("num_profile_runs", Value::from(r.count)),
                ("confidence_level", serde_json::json!(r.confidence)),
            ] {
                merged.insert(k.into(), v.clone());
                applied_defaults.push((
                    k.into(),
                    v,
                    "repeats: back_to_back (aiperf repeats the point)",
                ));
            }
        }
        // Local paths as aiperf gets them: absolute (it runs inside the combination's dir).
        for (k, v) in merged.iter_mut() {
            if crate::config::paths::path_kind(&canonical(k)).is_some()
                && let Value::String(s) = v
                && let Some(abs) = config.resolved_paths.get(s.as_str())
            {
                *v = Value::String(abs.display().to_string());
            }
        }
        check_combination(&merged, &pairs, &mut diags);
        let mock = matches!(server, Some(ServerConfig::Mock(_)));
        let args = argv::build(&merged, server_url(server.as_ref()).as_deref(), mock);
        let index = combinations.len();
        let mut c = Combination {
            index,
            dir: String::new(),
            params,
            merged,
            server,
            server_id: format!("server-{group}"),
            args,
            applied_defaults,
            targets: Vec::new(),
            repeat: None,
            point: index,
            probe: None,
        };
        c.targets = targets_for(config, &c);
        combinations.push(c);
    }
    if !diags.is_empty() {
        return Err(config.error(dedup(diags)));
    }
    id::assign_dirs(&mut combinations);
    if let Some(r) = config.repeats.filter(|r| r.order == RepeatOrder::Interleaved) {
        combinations = interleave(combinations, r.count);
    }
    let mut warnings = Vec::new();
    for (i, hits) in exclude_hits.iter().enumerate() {
        if *hits == 0 {
            warnings.push(
                Diagnostic::new(
                    format!("/exclude/{i}"),
                    "this exclude entry matches no combination",
                )
                .hint("check its keys and values against `sweeps` and `scenarios`"),
            );
        }
    }
    // A target point whose `match` fits no combination (a typo in a key or a value) would
    // silently check nothing.
    if let Some(t) = &config.targets {
        for (i, p) in t.points.iter().enumerate() {
            let hit = combinations.iter().any(|c| {
                p.match_.iter().all(|(k, v)| c.get(k).is_some_and(|mv| values_equal(mv, v)))
            });
            if !hit && !combinations.is_empty() {
                warnings.push(
                    Diagnostic::new(
                        format!("/targets/points/{i}/match"),
                        "this target point matches no combination: its targets are never checked",
                    )
                    .hint(
                        "check its keys and values against `base_config`, `sweeps` and `scenarios`",
                    ),
                );
            }
        }
    }
    if combinations.is_empty() {
        return Err(config.error(vec![
            Diagnostic::new("/exclude", "every combination is excluded: nothing to run")
                .hint("remove or narrow the `exclude` entries"),
        ]));
    }
    let warnings = config.error(warnings).diagnostics;
    let mut load_search = config.load_search.clone();
    let mut templates = Vec::new();
    if let Some(ls) = load_search.as_mut() {
        let section = match ls.mode {
            SearchMode::StopWhen { .. } => "stop_when",
            SearchMode::Search { .. } => "search",
        };
        // An SLO on a metric the runs will not produce is an error now, not a skipped ladder.
        let mut diags = Vec::new();
        for c in &combinations {
            let streaming = c.get("streaming").and_then(Value::as_bool) == Some(true);
            for k in ls.slo.keys() {
                if !streaming
                    && crate::model::slo::Measure::parse(k).is_some_and(|m| m.needs_streaming())
                {
                    let pointer = format!("/{section}/slo/{}", escape_segment(k));
                    let pos = config.index.key(&pointer);
                    diags.push(
                        Diagnostic::new(
                            pointer,
                            if c.params.is_empty() {
                                format!("`{k}` is measured only on streamed responses, and the runs do not stream")
                            } else {
                                format!("`{k}` is measured only on streamed responses, and combination `{}` does not stream", describe_params(&c.params))
                            },
                        )
                        .hint("set `streaming: true` in base_config, or bound a metric every run has (`e2el_p99_ms`, `error_rate`)")
                        .at(pos),
                    );
                }
            }
        }
        if !diags.is_empty() {
            return Err(config.error(dedup(diags)));
        }
        match ls.mode {
            SearchMode::StopWhen { .. } => ls.groups = ladder_groups(&combinations, &ls.variable),
            SearchMode::Search { .. } => {
                ls.groups = combinations
                    .iter()
                    .map(|c| SearchGroup {
                        id: c.index,
                        params: c.params.clone(),
                        server_id: c.server_id.clone(),
                        members: Vec::new(),
                    })
                    .collect();
                templates = std::mem::take(&mut combinations);
            }
        }
    }
    Ok(Plan {
        combinations,
        swept_keys,
        warnings,
        tt_model_id: config.tt_model_id.clone(),
        repeats: config.repeats,
        load_search,
        templates,
    })
}

/// The ladders of `stop_when`: the points that differ only in `dimension` (same server), each
/// group's members in increasing order of it; groups in order of first appearance.
fn ladder_groups(combinations: &[Combination], dimension: &str) -> Vec<SearchGroup> {
    let dim = canonical(dimension);
    let mut groups: Vec<(String, SearchGroup)> = Vec::new();
    for c in combinations {
        let others: Params = c
            .params
            .iter()
            .filter(|(k, _)| canonical(k) != dim)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = format!("{}|{}", c.server_id, serde_json::to_string(&others).unwrap_or_default());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.members.push(c.index),
            None => {
                let id = groups.len();
                groups.push((
                    key,
                    SearchGroup {
                        id,
                        params: others,
                        server_id: c.server_id.clone(),
                        members: vec![c.index],
                    },
                ));
            }
        }
    }
    let value =
        |i: usize| combinations[i].get(dimension).and_then(Value::as_f64).unwrap_or(f64::INFINITY);
    groups
        .into_iter()
        .map(|(_, mut g)| {
            g.members.sort_by(|a, b| value(*a).total_cmp(&value(*b)).then(a.cmp(b)));
            g
        })
        .collect()
}

/// A probe of a `search`: `template` with `variable` set to `value`, numbered `index`, in its
/// own directory (`concurrency37_<the other parameters>`).
pub fn probe(
    config: &Config,
    template: &Combination,
    variable: &str,
    value: f64,
    index: usize,
) -> Combination {
    let v = if value.fract() == 0.0 && value.abs() < 1e15 {
        Value::from(value as i64)
    } else {
        serde_json::json!(value)
    };
    let mut c = template.clone();
    let var = canonical(variable);
    c.params.insert(variable.to_owned(), v.clone());
    c.merged.retain(|k, _| canonical(k) != var);
    c.merged.insert(variable.to_owned(), v);
    let mock = matches!(c.server, Some(ServerConfig::Mock(_)));
    c.args = argv::build(&c.merged, server_url(c.server.as_ref()).as_deref(), mock);
    c.index = index;
    c.point = index;
    c.dir = id::dir_name(&c.params);
    c.probe = Some(Probe { group: template.index, value });
    c.targets = targets_for(config, &c);
    c
}

/// Interleaved repeats: every point becomes `count` runs, `<point dir>/repeat_<k>`, numbered
/// point-major (`point x count + k - 1`); [`Plan::run_order`] runs them repeat-major.
fn interleave(points: Vec<Combination>, count: u32) -> Vec<Combination> {
    let mut out = Vec::with_capacity(points.len() * count as usize);
    for p in points {
        for k in 1..=count {
            let mut c = p.clone();
            c.index = out.len();
            c.repeat = Some(k);
            c.point = p.index;
            c.dir = if p.dir.is_empty() {
                format!("repeat_{k}")
            } else {
                format!("{}/repeat_{k}", p.dir)
            };
            out.push(c);
        }
    }
    out
}

fn dedup(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert((d.pointer.clone(), d.message.clone())));
    diags
}

fn excluded(ex: &Map<String, Value>, pairs: &[(&String, &Value, &String)]) -> bool {
    ex.iter().all(|(k, v)| {
        let c = canonical(k);
        pairs.iter().any(|(pk, pv, _)| canonical(pk) == c && values_equal(pv, v))
    })
}

/// The NeMo runner's defaults that change what aiperf measures, applied where the config leaves
/// them out (a config written for the NeMo runner must measure the same under sweeper):
/// - `request_rate_mode: constant` when a request rate is given: the runner always passes it,
///   aiperf's own default arrival pattern is `poisson` (checked with aiperf 0.13: the gaps
///   between requests have a CV of 0.02 with `constant`, 0.97 with the default). Without a
///   request rate it changes nothing, so it is not added.
///
/// The runner's other defaults (`endpoint_type: chat`, `endpoint: /v1/chat/completions`) are
/// aiperf's own, so nothing is added for them.
fn apply_nemo_defaults(merged: &mut Map<String, Value>) -> Vec<(String, Value, &'static str)> {
    let has = |m: &Map<String, Value>, k: &str| {
        let c = canonical(k);
        m.iter().any(|(mk, v)| canonical(mk) == c && !v.is_null())
    };
    let mut out = Vec::new();
    if has(merged, "request_rate") && !has(merged, "request_rate_mode") {
        let v = Value::String("constant".into());
        merged.insert("request_rate_mode".into(), v.clone());
        out.push((
            "request_rate_mode".to_owned(),
            v,
            "the NeMo runner's default; aiperf's own arrival pattern is poisson",
        ));
    }
    out
}

/// Contradictions that only show once a combination's values are merged.
fn check_combination(
    merged: &Map<String, Value>,
    pairs: &[(&String, &Value, &String)],
    diags: &mut Vec<Diagnostic>,
) {
    let get = |k: &str| {
        let c = canonical(k);
        merged.iter().find(|(mk, _)| canonical(mk) == c)
    };
    // Where a key got its value: the sweep/scenario entry, else base_config.
    let source = |k: &str| -> String {
        let c = canonical(k);
        pairs
            .iter()
            .find(|(pk, _, _)| canonical(pk) == c)
            .map(|(_, _, src)| (*src).clone())
            .or_else(|| get(k).map(|(mk, _)| format!("/base_config/{}", escape_segment(mk))))
            .unwrap_or_default()
    };
    if let Some(problem) = argv::key_config_problem(merged) {
        diags.push(
            Diagnostic::new(source("api_key_env_var"), problem)
                .hint("drop one of the two, or pass the key another way (`extra_args` shows it in the command line)"),
        );
    }
    // Lower bounds of aiperf's options, judged on the value this combination passes (the
    // schema leaves them out of base_config, where placeholders live).
    for (k, v) in merged {
        let Some(o) = crate::model::options::lookup(k) else { continue };
        let Some(x) = v.as_f64() else { continue };
        let (min, strict) = match o.kind {
            crate::model::options::OptKind::Int { min } if min != i64::MIN => (min as f64, false),
            crate::model::options::OptKind::Number { min, exclusive } if min != f64::MIN => {
                (min, exclusive)
            }
            _ => continue,
        };
        if x < min || (strict && x <= min) {
            let bound = if strict { "less than or equal to" } else { "less than the minimum of" };
            let shown = if v.is_i64() || v.is_u64() { v.to_string() } else { format!("{x}") };
            diags.push(Diagnostic::new(source(k), format!("{shown} is {bound} {min}")).hint(
                format!(
                    "`{k}` (aiperf --{}) takes a value >= {min}{}",
                    o.flags[0],
                    if strict { " (not equal)" } else { "" }
                ),
            ));
        }
    }
    // goodput thresholds (`{time_to_first_token: 25}`) are positive.
    for (k, v) in merged {
        if crate::model::options::lookup(k)
            .is_some_and(|o| o.kind == crate::model::options::OptKind::Goodput)
            && let Value::Object(m) = v
        {
            for (tag, t) in m {
                if t.as_f64().is_some_and(|x| x <= 0.0) {
                    diags.push(
                        Diagnostic::new(
                            format!("{}/{}", source(k), escape_segment(tag)),
                            format!("{t} is less than or equal to 0"),
                        )
                        .hint("a goodput threshold is a positive number in the metric's unit (ms)"),
                    );
                }
            }
        }
    }
    // Every duration-like aiperf option, as this combination will pass it.
    for (k, v) in merged {
        if let Some(d) = crate::config::durations::aiperf_duration(&canonical(k))
            && let Err(e) = crate::config::durations::check(d, v)
        {
            diags.push(
                Diagnostic::new(source(k), format!("`{k}`: {e}"))
                    .hint("give a number of seconds (milliseconds where the option says so), at most one year"),
            );
        }
    }
    const NO_STREAMING: &[&str] = &[
        "embeddings",
        "nim-embeddings",
        "chat-embeddings",
        "cohere-rankings",
        "hf-tei-rankings",
        "nim-rankings",
        "image-retrieval",
    ];
    if let (Some((_, Value::Bool(true))), Some((_, Value::String(t)))) =
        (get("streaming"), get("endpoint_type"))
        && NO_STREAMING.contains(&t.replace('_', "-").as_str())
    {
        diags.push(
            Diagnostic::new(
                source("streaming"),
                format!(
                    "`streaming: true` contradicts `endpoint_type: {t}`, which does not stream"
                ),
            )
            .hint("set `streaming: false`, or use a generating endpoint type (chat, completions)"),
        );
    }
    if get("prompt_output_tokens_stddev").is_some_and(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
        && get("prompt_output_tokens_mean").is_none()
    {
        diags.push(
            Diagnostic::new(
                source("prompt_output_tokens_stddev"),
                "an output-length stddev without an output-length mean",
            )
            .hint("set `prompt_output_tokens_mean` (or `osl`) too"),
        );
    }
    if let (Some((_, w)), Some((_, r))) = (get("warmup_request_count"), get("request_count"))
        && let (Some(w), Some(r)) = (w.as_u64(), r.as_u64())
        && w > 0
        && r > 0
        && w > r * 100
    {
        diags.push(
            Diagnostic::new(
                source("warmup_request_count"),
                format!("{w} warmup requests for {r} measured ones"),
            )
            .hint("warmup is not measured; lower `warmup_request_count`"),
        );
    }
}

/// Targets that apply to a combination: config points whose `match` it satisfies, and entries
/// of the reference file whose ISL/OSL/concurrency (and N, if both give it) equal its own.
fn targets_for(config: &Config, c: &Combination) -> Vec<TargetCheck> {
    let Some(t) = &config.targets else { return Vec::new() };
    let mut out = Vec::new();
    for p in &t.points {
        let matches = p.match_.iter().all(|(k, v)| c.get(k).is_some_and(|mv| values_equal(mv, v)));
        if matches {
            let tol = p.tolerance.unwrap_or(t.tolerance);
            for (metric, target) in p.metrics() {
                out.push(TargetCheck {
                    metric: metric.clone(),
                    target: *target,
                    tolerance: tol,
                    source: "config".into(),
                });
            }
        }
    }
    if let Some(r) = &config.reference {
        out.extend(r.checks_for(&reference_point(c), t.tolerance));
    }
    out
}

/// Where a combination sits for a reference file's matching rule.
pub fn reference_point(c: &Combination) -> crate::tt::reference::Point {
    let num = |k: &str| c.get(k).and_then(Value::as_f64);
    crate::tt::reference::Point {
        isl: num("isl"),
        osl: num("osl"),
        concurrency: num("concurrency"),
        num_prompts: num("request_count"),
    }
}

/// The params of every combination as a table (for printing): rows of (index, values, dir).
pub fn params_table(plan: &Plan) -> Vec<(usize, BTreeMap<String, String>, String)> {
    plan.combinations
        .iter()
        .map(|c| {
            let vals = c.params.iter().map(|(k, v)| (k.clone(), argv::scalar_text(v))).collect();
            (c.index, vals, c.dir.clone())
        })
        .collect()
}
