//! Secret redaction: every string that leaves sweeper (files, logs, printed commands) passes here.

/// What a secret is replaced with, everywhere.
pub const MASK: &str = "***";

/// A set of secret values (API keys read from the environment) to mask in any text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values; empty values are ignored (masking "" would mangle text).
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every occurrence of every secret replaced by [`MASK`], and of every start of
    /// a secret at least [`PREFIX`] characters long (error messages print truncated values,
    /// `'sk-SECRETKEY-...'`, which still give most of the key away).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
            out = mask_prefixes(&out, s);
        }
        out
    }

    /// Redacts every element of an argv.
    pub fn redact_args(&self, args: &[String]) -> Vec<String> {
        args.iter().map(|a| self.redact(a)).collect()
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// Shortest start of a secret that is masked on its own.
pub const PREFIX: usize = 8;

/// Masks every run of at least [`PREFIX`] characters that matches the start of `secret`.
fn mask_prefixes(text: &str, secret: &str) -> String {
    let Some((cut, _)) = secret.char_indices().nth(PREFIX) else { return text.to_owned() };
    let head = &secret[..cut];
    if !text.contains(head) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(head) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let len: usize = tail
            .char_indices()
            .zip(secret.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((_, a), _)| a.len_utf8())
            .sum();
        out.push_str(MASK);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new(["abc".to_owned(), "abcdef".to_owned(), String::new()]);
        assert_eq!(r.redact("x abcdef y abc z"), "x *** y *** z");
        assert_eq!(r.redact_args(&["--api-key".into(), "abc".into()]), vec!["--api-key", "***"]);
    }

    #[test]
    fn masks_a_truncated_key_in_an_error_message() {
        // aiperf 0.13 prints the endpoint section on some validation errors, key truncated.
        let r = Redactor::new(["sk-SECRETKEY-7f3a9c".to_owned()]);
        assert_eq!(
            r.redact("input_value={'apiKey': 'sk-SECRETKEY-...'per_chunk_usage': True}"),
            "input_value={'apiKey': '***...'per_chunk_usage': True}"
        );
        assert_eq!(r.redact("sk-SECRE"), "***");
        assert_eq!(r.redact("sk-SECR and sk-"), "sk-SECR and sk-");
    }
}
