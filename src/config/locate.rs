//! Maps key paths of a YAML document (JSON pointers such as `/sweeps/concurrency/1`) to the line
//! and column where they are written, so every config error can point at the spot.

pub use crate::model::diagnostic::{Pos, escape_segment};
use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// Positions of every node and every mapping key of a document, by JSON pointer.
#[derive(Debug, Default)]
pub struct LocationIndex {
    /// Where the value at a path starts.
    values: HashMap<String, Pos>,
    /// Where the key that leads to a path is written (mapping entries only).
    keys: HashMap<String, Pos>,
    /// Every key and value in document order, for "which key is at this line".
    order: Vec<(Pos, String)>,
}

enum Frame {
    Map { path: String, expecting_key: bool, pending_key: Option<String> },
    Seq { path: String, next: usize },
}

impl LocationIndex {
    /// Indexes `text`. Best effort: on a parse error it keeps what it has (the YAML loader
    /// reports the error itself). Aliases point at the alias, not into the anchored node.
    pub fn build(text: &str) -> Self {
        let mut index = LocationIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        // Budget: the loader already rejected oversized documents; stop anyway after a bound.
        for (n, item) in Parser::new_from_str(text).enumerate() {
            if n > 2_000_000 {
                break;
            }
            let Ok((event, span)) = item else { break };
            let pos = Pos { line: span.start.line(), col: span.start.col() + 1 };
            // The path of the node this event starts, if it is a node.
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
                    | Event::Alias(_)
            );
            if !is_node {
                if matches!(event, Event::SequenceEnd | Event::MappingEnd) {
                    stack.pop();
                    index.after_node(&mut stack);
                }
                continue;
            }
            // A scalar in key position of a mapping is a key, not a node.
            if let Some(Frame::Map { path, expecting_key: true, pending_key }) = stack.last_mut() {
                if let Event::Scalar(value, ..) = &event {
                    let child = format!("{path}/{}", escape_segment(value));
                    index.order.push((pos, child.clone()));
                    index.keys.entry(child).or_insert(pos);
                    *pending_key = Some(value.to_string());
                } else {
                    // A complex key: not addressable by a JSON pointer; skip its content.
                    *pending_key = None;
                }
                if let Some(Frame::Map { expecting_key, .. }) = stack.last_mut() {
                    *expecting_key = false;
                }
                if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) {
                    // Push a throwaway frame for the complex key's content.
                    stack.push(Frame::Seq { path: "\u{0}complex-key".into(), next: 0 });
                }
                continue;
            }
            let path = match stack.last() {
                None => String::new(),
                Some(Frame::Map { path, pending_key, .. }) => match pending_key {
                    Some(k) => format!("{path}/{}", escape_segment(k)),
                    None => "\u{0}complex-key".into(),
                },
                Some(Frame::Seq { path, next }) => format!("{path}/{next}"),
            };
            index.values.entry(path.clone()).or_insert(pos);
            if !path.starts_with('\u{0}') {
                index.order.push((pos, path.clone()));
            }
            match event {
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                Event::MappingStart(..) => {
                    stack.push(Frame::Map { path, expecting_key: true, pending_key: None })
                }
                _ => index.after_node(&mut stack),
            }
        }
        index
    }

    /// Advances the parent frame once a child node is complete.
    fn after_node(&mut self, stack: &mut [Frame]) {
        match stack.last_mut() {
            Some(Frame::Map { expecting_key, pending_key, .. }) if !*expecting_key => {
                *expecting_key = true;
                *pending_key = None;
            }
            Some(Frame::Map { .. }) => {}
            Some(Frame::Seq { next, .. }) => *next += 1,
            None => {}
        }
    }

    /// Position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Option<Pos> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// The key path written at or just before `pos` (e.g. where a YAML error was found), or
    /// `""` when nothing precedes it.
    pub fn path_at(&self, pos: Pos) -> String {
        self.order
            .iter()
            .filter(|(p, _)| *p <= pos)
            .max_by_key(|(p, _)| *p)
            .map(|(_, k)| k.clone())
            .unwrap_or_default()
    }

    /// Position of the key of `pointer` (where `key:` is written), falling back to the value's.
    pub fn key(&self, pointer: &str) -> Option<Pos> {
        self.keys.get(pointer).copied().or_else(|| self.value(pointer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_sequence_items() {
        let text = "batch_name: x\nbase_config:\n  model: m\n  concurrency: 0\nsweeps:\n  concurrency: [1, 2,\n    4]\n  isl:\n    - 10\n    - 20\n";
        let idx = LocationIndex::build(text);
        assert_eq!(idx.key("/base_config/model"), Some(Pos { line: 3, col: 3 }));
        assert_eq!(idx.value("/base_config/model"), Some(Pos { line: 3, col: 10 }));
        assert_eq!(idx.value("/sweeps/concurrency/2"), Some(Pos { line: 7, col: 5 }));
        assert_eq!(idx.value("/sweeps/isl/1"), Some(Pos { line: 10, col: 7 }));
        assert_eq!(idx.key("/sweeps"), Some(Pos { line: 5, col: 1 }));
        // Unknown child falls back to the nearest ancestor.
        assert_eq!(idx.value("/sweeps/isl/7"), Some(Pos { line: 9, col: 5 }));
    }
}
