//! A report row as the templates read it: each field made into a template value when a
//! template reads it, not the whole row up front.
//!
//! A row's figures (about 20 metrics and their statistics), spreads, server summary and cost are
//! most of its size, and the performance tables read a row's load, parameters and status only
//! (their figures come from `performance_table`'s cells). Made whole, the rows took most of the
//! Markdown report's time (at 1,000 rows, 22 of its ~30 ms and 9 of the HTML report's ~31 ms,
//! measured by rendering them without the figures).

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use super::Row;
use super::template::Item;

/// The names [`Row`] serializes its fields as, in order.
const FIELDS: [&str; 12] = [
    "index",
    "dir",
    "status",
    "params",
    "load",
    "metrics",
    "targets",
    "length_mismatches",
    "repeats",
    "spread",
    "server",
    "cost",
];

impl Item for Row {
    fn value(items: &Arc<Vec<Row>>, i: usize) -> Value {
        Value::from_object(RowFields(items.clone(), i))
    }
}

/// Row `.1` of the report's rows.
#[derive(Debug)]
struct RowFields(Arc<Vec<Row>>, usize);

impl Object for RowFields {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let r = &self.0[self.1];
        Some(match key.as_str()? {
            "index" => Value::from_serialize(r.index),
            "dir" => Value::from_serialize(&r.dir),
            "status" => Value::from_serialize(&r.status),
            "params" => Value::from_serialize(&r.params),
            "load" => Value::from_serialize(&r.load),
            "metrics" => Value::from_serialize(&r.metrics),
            "targets" => Value::from_serialize(&r.targets),
            "length_mismatches" => Value::from_serialize(&r.length_mismatches),
            "repeats" => Value::from_serialize(r.repeats),
            "spread" => Value::from_serialize(&r.spread),
            "server" => Value::from_serialize(&r.server),
            "cost" => Value::from_serialize(&r.cost),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&FIELDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::{Metric, Stat, Values};

    fn row() -> Row {
        let mut params = crate::records::SortedMap::new();
        params.insert("concurrency".into(), "4".into());
        let mut metrics = Values::default();
        metrics.set(Metric::Ttft, Stat::ALL[0], Some(21.5));
        Row {
            index: 3,
            dir: "concurrency4".into(),
            status: "succeeded".into(),
            params,
            load: crate::results::LoadPoint { concurrency: Some(4.0), ..Default::default() },
            metrics: Some(Arc::new(metrics)),
            targets: vec![super::super::targets::TargetResult {
                metric: "ttft".into(),
                source: "config".into(),
                target: 20.0,
                tolerance: 0.1,
                measured: Some(21.5),
                ratio: Some(1.075),
                higher_is_better: false,
                verdict: "PASS",
            }],
            length_mismatches: Vec::new(),
            repeats: 0,
            spread: None,
            server: None,
            cost: None,
        }
    }

    /// What a template reads of a row, field by field, is what the whole row serialized gives;
    /// the field list is the one the row serializes (a field added to [`Row`] and not here
    /// fails this).
    #[test]
    fn a_row_read_field_by_field_is_the_row_made_whole() {
        let rows = Arc::new(vec![row()]);
        let whole = Value::from_serialize(&rows[0]);
        let lazy = Row::value(&rows, 0);
        let keys = |v: &Value| -> Vec<String> {
            v.try_iter().unwrap().map(|k| k.as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(keys(&lazy), keys(&whole));
        for k in FIELDS {
            assert_eq!(lazy.get_attr(k).unwrap(), whole.get_attr(k).unwrap(), "{k}");
        }
        assert!(lazy.get_attr("nope").unwrap().is_undefined());
        let env = minijinja::Environment::new();
        let out = env
            .render_str(
                "{{ r.load.concurrency }} {{ r.params.concurrency }} {{ r | tojson }}",
                minijinja::context! { r => lazy },
            )
            .unwrap();
        let json = env.render_str("{{ r | tojson }}", minijinja::context! { r => whole }).unwrap();
        assert_eq!(out, format!("4.0 4 {json}"));
    }
}
