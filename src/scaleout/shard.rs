//! Splitting a plan into N shards for N machines (`--shard K/N`): a pure, deterministic function
//! of the plan and N. Whole server groups go to one shard (a server is started on one node
//! only), balanced by estimated cost; when N exceeds the number of server groups, the largest
//! groups are split into contiguous ranges. A search group, a `stop_when` ladder and the repeats
//! of a point are never split.

use serde_json::Value;

use crate::plan::{Combination, Plan, id::fnv1a};
use crate::records::{RepeatOrder, SearchMode};
use crate::search::probe::max_probes;

/// `K/N`: shard K (0-based, as `SLURM_ARRAY_TASK_ID` and `JOB_COMPLETION_INDEX` count) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

/// Why a `--shard` or `--batch-id` value is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0} is not K/N (e.g. `--shard 0/4`: the first of 4 shards)")]
    NotKOverN(String),
    #[error("--shard {0}: K must be a whole number from 0 to N-1")]
    BadK(String),
    #[error("--shard {0}: N must be a whole number, at least 1")]
    BadN(String),
    #[error("--shard {0}: N is the number of shards, at least 1")]
    NoShards(String),
    #[error("--shard {0}: at most 10000 shards")]
    TooMany(String),
    #[error(
        "--shard {given}: shards are numbered 0 to {last} (K counts from 0, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX do)"
    )]
    OutOfRange { given: String, last: usize },
    #[error(
        "--batch-id {0}: a batch id names a directory: letters, digits, `.`, `_` and `-`, not starting with `.`, at most 128 (e.g. `$SLURM_ARRAY_JOB_ID` or `20261202_0800`)"
    )]
    BatchId(String),
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(given: &str) -> Result<Shard, ShardError> {
        let s = &crate::util::term::shown(given);
        let (k, n) = given.split_once('/').ok_or_else(|| ShardError::NotKOverN(s.into()))?;
        let k: usize = k.trim().parse().map_err(|_| ShardError::BadK(s.into()))?;
        let n: usize = n.trim().parse().map_err(|_| ShardError::BadN(s.into()))?;
        if n == 0 {
            return Err(ShardError::NoShards(s.into()));
        }
        if n > 10_000 {
            return Err(ShardError::TooMany(s.into()));
        }
        if k >= n {
            return Err(ShardError::OutOfRange { given: s.into(), last: n - 1 });
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What one shard runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardPlan {
    /// Combination indices, ascending.
    pub combinations: Vec<usize>,
    /// Search groups (template indices), ascending.
    pub templates: Vec<usize>,
    /// Estimated cost (see [`cost`]).
    pub cost: f64,
    /// Server ids it starts, in order.
    pub servers: Vec<String>,
}

/// Estimated cost of one run of `c`: its `benchmark_duration` (s), else its `request_count`,
/// else aiperf's default of 10 requests; times the repeats aiperf makes itself.
pub fn cost(c: &Combination) -> f64 {
    let num = |k: &str| c.get(k).and_then(Value::as_f64).filter(|x| x.is_finite() && *x > 0.0);
    let base = num("benchmark_duration").or_else(|| num("request_count")).unwrap_or(10.0);
    base * num("num_profile_runs").unwrap_or(1.0)
}

/// A piece never split: combinations and search templates that stay together.
#[derive(Debug, Clone)]
struct Unit {
    combinations: Vec<usize>,
    templates: Vec<usize>,
    cost: f64,
}

/// The units of one server's work, in run order.
#[derive(Debug, Clone)]
struct Atom {
    server: String,
    units: Vec<Unit>,
}

impl Atom {
    fn cost(&self) -> f64 {
        self.units.iter().map(|u| u.cost).sum()
    }
}

/// The server groups of `plan`, each cut into its unsplittable units.
fn atoms(plan: &Plan) -> Vec<Atom> {
    let mut atoms: Vec<Atom> = Vec::new();
    // Search groups: one unit each, costed at their most probes.
    if let Some(ls) = &plan.load_search
        && matches!(ls.mode, SearchMode::Search { .. })
    {
        let probes = max_probes(ls.mode) as f64;
        for t in &plan.templates {
            let unit =
                Unit { combinations: vec![], templates: vec![t.index], cost: probes * cost(t) };
            match atoms.iter_mut().find(|a| a.server == t.server_id) {
                Some(a) => a.units.push(unit),
                None => atoms.push(Atom { server: t.server_id.clone(), units: vec![unit] }),
            }
        }
        return atoms;
    }
    // Ladders, points with interleaved repeats, or single combinations, in run order.
    let ladder: std::collections::HashMap<usize, usize> = match &plan.load_search {
        Some(ls) if matches!(ls.mode, SearchMode::StopWhen { .. }) => {
            ls.groups.iter().flat_map(|g| g.members.iter().map(move |m| (*m, g.id))).collect()
        }
        _ => Default::default(),
    };
    let interleaved = plan.repeats.is_some_and(|r| r.order == RepeatOrder::Interleaved);
    // An A/B batch: every value and repeat of a point stays on one shard (one machine's drift
    // hits A and B alike), and the points of all values form one group.
    let mut ab_points: Vec<Vec<(String, String)>> = Vec::new();
    // (kind, id) of a unit -> (atom, unit) where it is.
    let mut where_: std::collections::HashMap<(u8, usize), (usize, usize)> = Default::default();
    for i in plan.run_order() {
        let c = &plan.combinations[i];
        let key = match (ladder.get(&i), interleaved, &plan.ab) {
            (_, _, Some(ab)) => {
                let p = crate::plan::ab_point(&c.params, &ab.by);
                let r = ab_points.iter().position(|x| *x == p).unwrap_or_else(|| {
                    ab_points.push(p);
                    ab_points.len() - 1
                });
                (3, r)
            }
            (Some(g), _, _) => (0, *g),
            (None, true, _) => (1, c.point),
            (None, false, _) => (2, c.index),
        };
        let server = if plan.ab.is_some() { AB_GROUP } else { c.server_id.as_str() };
        if let Some((a, u)) = where_.get(&key) {
            let unit = &mut atoms[*a].units[*u];
            unit.combinations.push(i);
            unit.cost += cost(c);
            continue;
        }
        let a = match atoms.iter().position(|a| a.server == server) {
            Some(a) => a,
            None => {
                atoms.push(Atom { server: server.to_owned(), units: Vec::new() });
                atoms.len() - 1
            }
        };
        atoms[a].units.push(Unit { combinations: vec![i], templates: vec![], cost: cost(c) });
        where_.insert(key, (a, atoms[a].units.len() - 1));
    }
    atoms
}

/// Splits `a` into two contiguous parts of about equal cost (`None`: one unit, cannot split).
fn split(a: &Atom) -> Option<(Atom, Atom)> {
    if a.units.len() < 2 {
        return None;
    }
    let total = a.cost();
    let mut acc = 0.0;
    let mut best = (f64::INFINITY, 1);
    for i in 1..a.units.len() {
        acc += a.units[i - 1].cost;
        let d = (total - 2.0 * acc).abs();
        if d < best.0 {
            best = (d, i);
        }
    }
    let (l, r) = a.units.split_at(best.1);
    Some((
        Atom { server: a.server.clone(), units: l.to_vec() },
        Atom { server: a.server.clone(), units: r.to_vec() },
    ))
}

/// Largest atom first onto the least loaded shard (ties: the lower shard).
fn lpt(atoms: &[Atom], n: usize) -> Vec<ShardPlan> {
    let mut order: Vec<usize> = (0..atoms.len()).collect();
    order.sort_by(|a, b| atoms[*b].cost().total_cmp(&atoms[*a].cost()).then(a.cmp(b)));
    let mut shards = vec![ShardPlan::default(); n];
    for i in order {
        let a = &atoms[i];
        let k = (0..n)
            .min_by(|x, y| shards[*x].cost.total_cmp(&shards[*y].cost).then(x.cmp(y)))
            .unwrap_or(0);
        let s = &mut shards[k];
        s.cost += a.cost();
        for u in &a.units {
            s.combinations.extend(&u.combinations);
            s.templates.extend(&u.templates);
        }
        if !s.servers.contains(&a.server) {
            s.servers.push(a.server.clone());
        }
    }
    for s in &mut shards {
        s.combinations.sort_unstable();
        s.templates.sort_unstable();
    }
    shards
}

fn max_cost(shards: &[ShardPlan]) -> f64 {
    shards.iter().map(|s| s.cost).fold(0.0, f64::max)
}

/// Splits the largest splittable atom in two; false when none can be.
fn split_largest(atoms: &mut Vec<Atom>) -> bool {
    let Some(i) = atoms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.units.len() > 1)
        .max_by(|(ia, a), (ib, b)| a.cost().total_cmp(&b.cost()).then(ib.cmp(ia)))
        .map(|(i, _)| i)
    else {
        return false;
    };
    let Some((l, r)) = split(&atoms[i]) else { return false };
    atoms[i] = l;
    atoms.insert(i + 1, r);
    true
}

/// The group of every combination of an A/B batch (its servers are listed per shard after).
const AB_GROUP: &str = "\0ab";

/// The assignment of `plan` to `n` shards (some may be empty when the plan has fewer units).
pub fn assign(plan: &Plan, n: usize) -> Vec<ShardPlan> {
    let mut shards = assign_groups(plan, n);
    if plan.ab.is_some() {
        for s in &mut shards {
            s.servers.clear();
            for i in plan.run_order().into_iter().filter(|i| s.combinations.contains(i)) {
                let id = &plan.combinations[i].server_id;
                if !s.servers.contains(id) {
                    s.servers.push(id.clone());
                }
            }
        }
    }
    shards
}

fn assign_groups(plan: &Plan, n: usize) -> Vec<ShardPlan> {
    let mut atoms = atoms(plan);
    if atoms.len() >= n {
        // Whole server groups.
        return lpt(&atoms, n);
    }
    // More shards than server groups: split the largest groups into contiguous ranges, one
    // split at a time, and keep the most balanced assignment (the fewest splits among equals).
    while atoms.len() < n && split_largest(&mut atoms) {}
    let mut best = lpt(&atoms, n);
    for _ in 0..4 * n {
        if !split_largest(&mut atoms) {
            break;
        }
        let next = lpt(&atoms, n);
        if max_cost(&next) < max_cost(&best) - 1e-9 {
            best = next;
        }
    }
    best
}

/// The record of shard `shard` of `plan` (split into `parts` by [`assign`]), for plan.json:
/// its part, and the shard of every combination and search group.
pub fn record(
    plan: &Plan,
    parts: &[ShardPlan],
    shard: Shard,
    batch_id: &str,
) -> crate::records::ShardRecord {
    let mut assignment = vec![0; plan.combinations.len()];
    let mut group_assignment = vec![0; plan.templates.len()];
    for (k, p) in parts.iter().enumerate() {
        for i in &p.combinations {
            if let Some(a) = assignment.get_mut(*i) {
                *a = k;
            }
        }
        for g in &p.templates {
            if let Some(a) = group_assignment.get_mut(*g) {
                *a = k;
            }
        }
    }
    let mine = parts.get(shard.k).cloned().unwrap_or_default();
    crate::records::ShardRecord {
        k: shard.k,
        n: shard.n,
        batch_id: batch_id.to_owned(),
        combinations: mine.combinations,
        groups: mine.templates,
        assignment,
        group_assignment,
    }
}

/// A batch id as `--batch-id` takes it: it names a directory, so letters, digits, `.`, `_`,
/// `-`, not starting with `.`, at most 128 characters.
pub fn batch_id(s: &str) -> Result<String, ShardError> {
    if s.is_empty()
        || s.len() > 128
        || s.starts_with('.')
        || !s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ShardError::BatchId(crate::util::term::shown(s)));
    }
    Ok(s.to_owned())
}

/// A hash of everything a shard must agree on with the others (each combination's index,
/// directory, merged config and server; the search templates; repeats; the load search): two
/// shards with the same hash ran the same plan.
pub fn plan_hash(plan: &Plan) -> String {
    let mut text = String::new();
    for c in plan.combinations.iter().chain(&plan.templates) {
        text.push_str(&format!(
            "{}|{}|{}|{}\n",
            c.index,
            c.dir,
            serde_json::to_string(&c.merged).unwrap_or_default(),
            c.server_id
        ));
    }
    text.push_str(&serde_json::to_string(&plan.repeats).unwrap_or_default());
    text.push_str(&serde_json::to_string(&plan.load_search).unwrap_or_default());
    if let Some(ab) = &plan.ab {
        text.push_str(&serde_json::to_string(ab).unwrap_or_default());
    }
    format!("{:016x}", fnv1a(&text))
}
