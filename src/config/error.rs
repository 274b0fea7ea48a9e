//! Config diagnostics: every problem with its file, line, column, key path and a hint.

use std::fmt;
use std::path::PathBuf;

use super::locate::Pos;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// JSON pointer of the offending node (`/sweeps/concurrency/2`); empty for the whole file.
    pub pointer: String,
    /// Where it is written, when known.
    pub pos: Option<Pos>,
    /// What is wrong (and what was expected).
    pub message: String,
    /// What to do instead.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), pos: None, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(mut self, pos: Option<Pos>) -> Self {
        self.pos = pos;
        self
    }

    /// The key path in config notation: `sweeps.concurrency[2]`.
    pub fn key_path(&self) -> String {
        pointer_to_key_path(&self.pointer)
    }
}

/// `/sweeps/concurrency/2` -> `sweeps.concurrency[2]`.
pub fn pointer_to_key_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() { "(document)".into() } else { out }
}

/// A config that cannot be used: all its problems, for one file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
    /// The file's text, for snippets (empty when it could not be read).
    pub source: String,
}

impl ConfigError {
    pub fn single(file: PathBuf, d: Diagnostic) -> Self {
        Self { file, diagnostics: vec![d], source: String::new() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        writeln!(
            f,
            "invalid config `{}`: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        let lines: Vec<&str> = self.source.lines().collect();
        for d in &self.diagnostics {
            let loc = match d.pos {
                Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
                None => self.file.display().to_string(),
            };
            writeln!(f, "\n  --> {loc}: `{}`", d.key_path())?;
            if let Some(p) = d.pos
                && let Some(text) = lines.get(p.line.saturating_sub(1))
            {
                let shown: String = text.chars().take(160).collect();
                let width = p.line.to_string().len();
                writeln!(f, "  {:>width$} | {shown}", p.line)?;
                let caret_col = p.col.saturating_sub(1).min(shown.chars().count());
                writeln!(f, "  {:>width$} | {}^", "", " ".repeat(caret_col))?;
            }
            writeln!(f, "  error: {}", d.message)?;
            if let Some(h) = &d.hint {
                writeln!(f, "  hint: {h}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
