//! A/B inside one batch (`ab`): how the servers of the values run, the interleaved run order
//! (values alternate within every repeat, their order reversed every other repeat), and what
//! the interleaving costs in server starts.

use std::collections::HashMap;

use serde_json::Value;

use super::{Combination, Plan, server_url};
use crate::config::{Config, ConfigError, Diagnostic, ServerConfig};
use crate::model::options::canonical;
use crate::records::{Ab, AbServers, Params};

/// The `ab` section resolved against the combinations: `servers` defaults to `together` when
/// every server is external or a mock (they need no GPU of their own), else `restart`.
/// `together` with two servers sweeper starts at one URL is an error: they cannot both listen.
pub(super) fn resolve(config: &Config, combos: &[Combination]) -> Result<Option<Ab>, ConfigError> {
    let Some(ab) = &config.ab else { return Ok(None) };
    let fits = |s: Option<&ServerConfig>| {
        matches!(s, None | Some(ServerConfig::External { .. }) | Some(ServerConfig::Mock(_)))
    };
    let servers = ab.servers.unwrap_or(if combos.iter().all(|c| fits(c.server.as_deref())) {
        AbServers::Together
    } else {
        AbServers::Restart
    });
    if servers == AbServers::Together {
        let mut at_url: HashMap<String, &str> = HashMap::new();
        for c in combos.iter().filter(|c| !fits(c.server.as_deref())) {
            let Some(url) = server_url(c.server.as_deref()) else { continue };
            match at_url.get(&url) {
                Some(id) if *id != c.server_id => {
                    return Err(config.error(vec![
                        Diagnostic::new(
                            "/ab/servers",
                            format!("`servers: together` starts two servers that both listen at {url}"),
                        )
                        .hint("write `servers: restart` to run them one at a time (one GPU holds one server), or compare by a key that gives each server its own port (e.g. `ab: {by: server.url}`)"),
                    ]));
                }
                _ => {
                    at_url.insert(url, &c.server_id);
                }
            }
        }
    }
    Ok(Some(Ab { by: ab.by.clone(), servers }))
}

/// The value of `by` in `params`, by any alias of the key.
pub fn value_of<'a>(params: &'a Params, by: &str) -> Option<&'a Value> {
    let c = canonical(by);
    params.iter().find(|(k, _)| canonical(k) == c).map(|(_, v)| v)
}

/// `params` without `by`: what a value's point is matched by.
pub fn others(params: &Params, by: &str) -> Vec<(String, String)> {
    let c = canonical(by);
    params
        .iter()
        .filter(|(k, _)| canonical(k) != c)
        .map(|(k, v)| (canonical(k), v.to_string()))
        .collect()
}

/// Indices in the order an A/B batch runs them: repeat by repeat; inside a repeat the values
/// alternate point by point (`together`) or, when the server restarts at every switch
/// (`restart`), every point of one value, then of the next; the values' order is reversed
/// every other repeat (A B, B A, A B, ...), which balances drift and order effects and saves a
/// restart at each repeat's boundary.
pub(super) fn run_order(plan: &Plan, ab: &Ab) -> Vec<usize> {
    let mut values: Vec<&Value> = Vec::new();
    let mut points: Vec<Vec<(String, String)>> = Vec::new();
    let mut servers: Vec<&str> = Vec::new();
    let mut keys = Vec::with_capacity(plan.combinations.len());
    for c in &plan.combinations {
        let v = value_of(&c.params, &ab.by);
        let vr = match v.and_then(|v| values.iter().position(|x| *x == v)) {
            Some(i) => i,
            None => {
                values.extend(v);
                values.len().saturating_sub(1)
            }
        };
        let o = others(&c.params, &ab.by);
        let pr = points.iter().position(|p| *p == o).unwrap_or_else(|| {
            points.push(o);
            points.len() - 1
        });
        let sr = servers.iter().position(|s| *s == c.server_id).unwrap_or_else(|| {
            servers.push(&c.server_id);
            servers.len() - 1
        });
        keys.push((c.index, c.repeat.unwrap_or(1), vr, pr, sr));
    }
    let n = values.len().max(1);
    let mut order: Vec<(u32, usize, usize, usize, usize, usize)> = keys
        .into_iter()
        .map(|(i, k, vr, pr, sr)| {
            let v = if k % 2 == 0 { n - 1 - vr.min(n - 1) } else { vr };
            match ab.servers {
                AbServers::Restart => (k, v, sr, pr, 0, i),
                AbServers::Together => (k, 0, 0, pr, v, i),
            }
        })
        .collect();
    order.sort();
    order.into_iter().map(|t| t.5).collect()
}

/// Server starts in run order, and without interleaving (each server once): what the
/// interleaving costs. External servers are never started.
pub fn server_starts(plan: &Plan) -> (usize, usize) {
    let started = |c: &Combination| {
        !matches!(c.server.as_deref(), None | Some(ServerConfig::External { .. }))
    };
    let together = plan.ab.as_ref().is_some_and(|a| a.servers == AbServers::Together);
    let mut distinct: Vec<&str> = Vec::new();
    let (mut starts, mut current) = (0, None);
    for i in plan.run_order() {
        let c = &plan.combinations[i];
        let first = !distinct.contains(&c.server_id.as_str());
        if first && started(c) {
            distinct.push(&c.server_id);
        }
        let switch = if together { first } else { current != Some(c.server_id.as_str()) };
        if switch && started(c) {
            starts += 1;
        }
        current = Some(c.server_id.as_str());
    }
    (starts, distinct.len())
}
