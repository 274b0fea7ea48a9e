//! A problem with a config, at a key path (a JSON pointer), with what to do instead: the
//! vocabulary every room's config rules report in (`config` adds the file and position).

/// A 1-based line and column in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

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

/// Best suggestions for `word` among `candidates`.
pub fn did_you_mean(word: &str, candidates: &[String]) -> Option<String> {
    let w = word.to_lowercase().replace('-', "_");
    let mut best: Option<(f64, &String)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&w, c);
        let close = strsim::damerau_levenshtein(&w, c) <= 2.max(w.len() / 5);
        if (score >= 0.88 || close) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.clone())
}
