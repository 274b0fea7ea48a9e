//! The one quoting function for values that reach a generated shell script (the Slurm job, the
//! Kubernetes pods' commands): every path, name, id and flag value goes through [`quote`], so
//! the shell reads it back as one word, byte for byte, and never runs any of it.

/// `s` as one POSIX shell word: as is when it holds only characters no shell treats specially,
/// else in single quotes (a `'` inside written as `'\''`). Newlines, `$()`, backticks, `;`,
/// spaces and non-ASCII text all stay literal; the empty string is `''`.
pub fn quote(s: &str) -> String {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:,=@%".contains(&b));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoted_words_come_back_intact_through_sh() {
        for s in [
            "plain/path-1.0",
            "",
            "a b",
            "it's",
            "$(touch x)",
            "`id`",
            "a;b",
            "x\ny",
            "é ü 日本",
            "'",
            "\\",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s, "{s:?} -> {}", quote(s));
        }
    }
}
