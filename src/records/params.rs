//! [`Params`]: a combination's parameters, a small map sorted by key ([`SortedMap`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Parameters of one combination: config key (as written in the file) -> value, sorted by key
/// so that every export lists them in the same order; serialized as a JSON object.
///
/// A sorted list, not a `BTreeMap`: a batch keeps several copies of every combination's
/// parameters (plan, manifest, results, reports), usually one to three keys each, and a
/// `BTreeMap` node takes about 1 KB whatever it holds.
pub type Params = SortedMap<Value>;

/// A map from text keys, sorted by key, in one allocation: for the small maps kept per
/// combination ([`Params`], a report row's parameters as text).
#[derive(Debug, Clone, PartialEq)]
pub struct SortedMap<V>(Vec<(String, V)>);

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

type Refs<'a, V> =
    std::iter::Map<std::slice::Iter<'a, (String, V)>, fn(&(String, V)) -> (&String, &V)>;

fn as_refs<V>(p: &(String, V)) -> (&String, &V) {
    (&p.0, &p.1)
}

impl<V> SortedMap<V> {
    pub fn new() -> Self {
        SortedMap(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Sets `key`, returning its previous value.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In key order.
    pub fn iter(&self) -> Refs<'_, V> {
        self.0.iter().map(as_refs as fn(&(String, V)) -> (&String, &V))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<V> FromIterator<(String, V)> for SortedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut p = SortedMap::new();
        p.extend(iter);
        p
    }
}

impl<V> Extend<(String, V)> for SortedMap<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<V> IntoIterator for SortedMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a SortedMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = Refs<'a, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `map["key"]`: the value, panicking when the key is missing (as a `BTreeMap` does).
impl<V> std::ops::Index<&str> for SortedMap<V> {
    type Output = V;
    fn index(&self, key: &str) -> &V {
        self.get(key).unwrap_or_else(|| panic!("no key `{key}` in the map"))
    }
}

impl<V: Serialize> Serialize for SortedMap<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SortedMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a BTreeMap: sorted, a repeated key keeping its last value, as before.
        Ok(SortedMap(BTreeMap::<String, V>::deserialize(d)?.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_by_key_and_serialized_as_an_object() {
        let mut p = Params::new();
        assert_eq!(p.insert("osl".into(), json!(128)), None);
        p.insert("concurrency".into(), json!(8));
        p.insert("isl".into(), json!(64));
        assert_eq!(p.insert("isl".into(), json!(32)), Some(json!(64)));
        let keys: Vec<&String> = p.keys().collect();
        assert_eq!(keys, ["concurrency", "isl", "osl"]);
        assert_eq!(p.get("isl"), Some(&json!(32)));
        assert!(p.get("nope").is_none());
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"concurrency":8,"isl":32,"osl":128}"#);
        let back: Params = serde_json::from_str(r#"{"osl":128,"isl":32,"concurrency":8}"#).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.remove("isl"), Some(json!(32)));
        assert_eq!(p.len(), 2);
    }
}
