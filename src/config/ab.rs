//! The `ab` section's rules: what an A/B comparison inside one batch needs (a swept key with two
//! or more values, interleaved repeats, no load search).

use super::error::Diagnostic;
use super::locate::escape_segment;
use super::raw::RawConfig;
use crate::model::options::canonical;
use crate::records::{RepeatOrder, Repeats};

/// Checks the `ab` section against the rest of the config; every problem goes to `push`
/// (with `true` when it is about a key rather than its value).
pub(super) fn check(
    raw: &RawConfig,
    repeats: Option<&Repeats>,
    mut push: impl FnMut(Diagnostic, bool),
) {
    let Some(ab) = &raw.ab else { return };
    check_key(raw, &ab.by, &mut push);
    check_repeats(raw, repeats, &mut push);
    for (section, set) in [("stop_when", raw.stop_when.is_some()), ("search", raw.search.is_some())]
    {
        if set {
            push(
                Diagnostic::new("/ab", format!("`ab` cannot be used with `{section}`"))
                    .hint(format!("`{section}` decides each point from the ones before it; compare two searches' batches with `sweeper compare A B` instead")),
                true,
            );
        }
    }
}

/// `by` names a `sweeps` key with two or more values.
fn check_key(raw: &RawConfig, by: &str, push: &mut impl FnMut(Diagnostic, bool)) {
    let swept: Vec<&String> = raw.sweeps.keys().collect();
    let found = raw.sweeps.iter().find(|(k, _)| canonical(k) == canonical(by));
    match found {
        None => {
            let in_scenarios =
                raw.scenarios.iter().any(|s| s.keys().any(|k| canonical(k) == canonical(by)));
            let listed = if swept.is_empty() {
                "this config has no `sweeps`".to_owned()
            } else {
                format!(
                    "the swept keys are {}",
                    swept.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )
            };
            push(
                Diagnostic::new("/ab/by", format!("`{by}` is not a key of `sweeps` ({listed})"))
                    .hint(if in_scenarios {
                        "A/B compares the values of one `sweeps` key: move this key from `scenarios` to `sweeps`".to_owned()
                    } else {
                        "name the `sweeps` key whose values are compared, e.g. `sweeps: {server.image: [a, b]}` with `ab: {by: server.image}`".to_owned()
                    }),
                false,
            );
        }
        Some((k, values)) => {
            let n = values.as_array().map_or(0, Vec::len);
            if n < 2 {
                push(
                    Diagnostic::new(
                        format!("/sweeps/{}", escape_segment(k)),
                        format!("`ab` compares the values of `{k}`, but it has {n}"),
                    )
                    .hint("give it two or more values: the first is A (the baseline)"),
                    false,
                );
            }
        }
    }
}

/// Repeats of 2 or more, interleaved (with a load search they run back to back: that conflict
/// is reported as the search's).
fn check_repeats(
    raw: &RawConfig,
    repeats: Option<&Repeats>,
    push: &mut impl FnMut(Diagnostic, bool),
) {
    match repeats {
        None => push(
            Diagnostic::new("/ab", "`ab` needs repeats: a verdict needs the noise of each value")
                .hint("add `repeats: 5` (interleaved: the values alternate in every repeat)"),
            true,
        ),
        Some(r) if r.count < 2 => push(
            Diagnostic::new("/repeats", format!("`ab` needs 2 or more repeats, not {}", r.count))
                .hint("`repeats: 5` is a good start: each value runs once per repeat"),
            false,
        ),
        Some(r)
            if r.order == RepeatOrder::BackToBack
                && raw.stop_when.is_none()
                && raw.search.is_none() =>
        {
            push(
            Diagnostic::new(
                "/repeats",
                "`ab` interleaves the repeats across the values, but the repeats run back to back",
            )
            .hint("write `order: interleaved` in `repeats` (and remove `num_profile_runs` from base_config)"),
            false,
        )
        }
        Some(_) => {}
    }
}
