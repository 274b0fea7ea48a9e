//! The minijinja environment: templates embedded from `templates/`, strict undefined, filters.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use crate::util::number;

/// Most decimals a template may ask for (more would only print noise).
const MAX_DIGITS: usize = 12;

/// `{{ x | num(2) }}`: a number with `digits` decimals (`1.70e308` beyond the ordinary range, see
/// [`number::fixed`]), `-` for none/undefined.
fn num(v: Value, digits: Option<usize>) -> String {
    match f64::try_from(v.clone()) {
        Ok(x) if x.is_finite() => number::fixed(x, digits.unwrap_or(1).min(MAX_DIGITS)),
        _ if v.is_none() || v.is_undefined() => "-".into(),
        _ => v.to_string(),
    }
}

/// `{{ x | signed(1) }}`: `+1.5`, `-0.3`, `+1.70e308`, `-` for none.
fn signed(v: Value, digits: Option<usize>) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => number::signed(x, digits.unwrap_or(1).min(MAX_DIGITS)),
        _ => "-".into(),
    }
}

/// `{{ ratio | pct }}`: `0.25` -> `25%`, `1e300` -> `1.00e302%`.
fn pct(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => number::percent(x),
        _ => "-".into(),
    }
}

/// `{{ x | load }}`: a load value as people write it: `8`, `12.5`; `-` for none.
fn load(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => number::exact(x),
        _ => "-".into(),
    }
}

/// A list the templates read one item at a time: an item becomes a template value when a
/// template reaches it, and is dropped after, so a report of 70,000 rows never holds 70,000
/// rows of template values (several KB each). Serialized as the plain list it is everywhere
/// else (`summary.json`).
#[derive(Debug, Clone)]
pub struct Lazy<T>(Arc<Vec<T>>);

impl<T> From<Vec<T>> for Lazy<T> {
    fn from(v: Vec<T>) -> Self {
        Lazy(Arc::new(v))
    }
}

impl<T> std::ops::Deref for Lazy<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a Lazy<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// How one item of a [`Lazy`] list becomes a template value: whole, unless the type gives its
/// fields one at a time (a report row: see `row_fields`).
pub trait Item: Serialize + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// Item `i` of `items` as a template value.
    fn value(items: &Arc<Vec<Self>>, i: usize) -> Value {
        Value::from_serialize(&items[i])
    }
}

impl Item for Vec<Option<f64>> {}

impl<T: Item> Serialize for Lazy<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if minijinja::value::serializing_for_value() {
            Value::from_object(Items(self.0.clone())).serialize(s)
        } else {
            self.0.serialize(s)
        }
    }
}

/// [`Lazy`] as a template sees it: a sequence whose items are made on demand.
#[derive(Debug)]
struct Items<T>(Arc<Vec<T>>);

impl<T: Item> Object for Items<T> {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_usize().filter(|i| *i < self.0.len())?;
        Some(T::value(&self.0, i))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("failed to load template `{name}`: {source}")]
    Load { name: String, source: minijinja::Error },
    #[error("failed to render `{name}`: {source:#}")]
    Render { name: String, source: minijinja::Error },
}

/// The report templates compiled into the binary, by name.
const TEMPLATES: [(&str, &str); 3] = [
    ("report.md.j2", include_str!("../../templates/report.md.j2")),
    ("report.html.j2", include_str!("../../templates/report.html.j2")),
    ("compare.md.j2", include_str!("../../templates/compare.md.j2")),
];

/// The environment with every report template. Each template is compiled when it is first
/// asked for (a run renders two of the three), and [`render`] keeps one environment per
/// process, so a batch of 1,000 runs compiles each template once, not once per report.
pub fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") { AutoEscape::Html } else { AutoEscape::None }
    });
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("num", num);
    env.add_filter("pct", pct);
    env.add_filter("signed", signed);
    env.add_filter("load", load);
    env.set_loader(|name| {
        Ok(TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, src)| (*src).to_owned()))
    });
    env
}

/// Compiles the templates of a run's reports ahead of their first render (sweeper's live
/// reports do it on their own thread when a batch starts, so its end does not wait for it).
pub fn prepare() {
    for name in ["report.md.j2", "report.html.j2"] {
        let _ = template(name);
    }
}

/// Template `name` of the process's environment.
fn template(name: &str) -> Result<minijinja::Template<'static, 'static>, TemplateError> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(env)
        .get_template(name)
        .map_err(|source| TemplateError::Load { name: name.to_owned(), source })
}

/// Renders `name` with `ctx`.
pub fn render<S: serde::Serialize>(name: &str, ctx: S) -> Result<String, TemplateError> {
    template(name)?
        .render(ctx)
        .map_err(|source| TemplateError::Render { name: name.to_owned(), source })
}

/// Renders `name` with `ctx` into `w` as it goes (a large report is never held whole).
pub fn render_to<S: serde::Serialize>(
    name: &str,
    ctx: S,
    w: &mut dyn std::io::Write,
) -> Result<(), TemplateError> {
    template(name)?
        .render_captured_to(ctx, w)
        .map(|_| ())
        .map_err(|source| TemplateError::Render { name: name.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Templates are compiled lazily, so a syntax error would only show when one is rendered:
    /// every embedded template compiles, and an unknown name is refused.
    #[test]
    fn every_template_compiles() {
        let env = env();
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        assert!(env.get_template("nope.j2").is_err());
    }
}
