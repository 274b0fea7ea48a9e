//! Expand a validated config into combinations, each with its index, directory, merged config,
//! server group, targets and exact aiperf argv. Pure: no I/O, no processes.
//!
//! Order (pinned by tests): scenarios are the outermost dimension, then the `sweeps` keys in
//! file order, the last key varying fastest (as `itertools::multi_cartesian_product`).
//! Excluded combinations are dropped before indices are assigned, so indices are 0..N-1.
//!
//! Files: `expand` (the product, merging, excludes), `checks` (contradictions of a merged
//! combination), `repeats` (interleaving), `load_search` (`stop_when` ladders, `search` groups
//! and probes), `ab` (A/B run order), `targets`, `id` (directory names), `argv` (aiperf's
//! command line), `server` (each server kind's command).

mod ab;
pub mod argv;
mod checks;
mod expand;
pub mod id;
pub mod kube;
mod load_search;
mod repeats;
pub mod server;
mod targets;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::{Diagnostic, ServerConfig};
use crate::model::options::canonical;
use crate::records::{LoadSearch, Params, SearchMode, TargetCheck};
pub use ab::{others as ab_point, server_starts, value_of};
pub use argv::{Arg, ArgContext};
pub use expand::expand;
pub use load_search::probe;
pub use targets::reference_point;

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
    /// The server of this combination (`None`: external at the base URL), shared by every
    /// combination with the same `server_id` (one copy, not one per combination).
    pub server: Option<std::sync::Arc<ServerConfig>>,
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
            .or_else(|| server_url(self.server.as_deref()))
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
        | ServerConfig::LlamaCpp { url, .. }
        | ServerConfig::Docker { url, .. }
        | ServerConfig::TtInferenceServer { url, .. } => Some(url.clone()),
        ServerConfig::Mock(_) => None,
        ServerConfig::Kubernetes(k) => kube::url_of(k),
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
    /// `ab`: the swept key whose values are compared inside the batch, interleaved.
    pub ab: Option<crate::records::Ab>,
    /// The config's `cost` section, as plan.json keeps it (`cost.*` sweep values are params).
    pub cost: Option<serde_json::Map<String, serde_json::Value>>,
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
    /// ladder, each in increasing order of its dimension; with `ab`, see [`ab::run_order`].
    /// Indices do not change.
    pub fn run_order(&self) -> Vec<usize> {
        if let Some(ab) = &self.ab {
            return ab::run_order(self, ab);
        }
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
