//! Writing to the terminal: every write ignores errors, so a closed stdout or stderr
//! (`sweeper ... | head`) never stops or corrupts a sweep.

use std::io::Write;

/// Writes a line to stderr; a closed or broken stderr is ignored.
pub fn err_line(s: &str) {
    // One write: stderr is unbuffered, and `writeln!` writes the text and the newline apart.
    let mut line = String::with_capacity(s.len() + 1);
    line.push_str(s);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Writes to stderr without a newline; errors ignored.
pub fn err_text(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "{s}");
    let _ = e.flush();
}

/// Writes a line to stdout; a closed or broken stdout is ignored.
pub fn out_line(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{s}");
}

/// Writes text to stdout as is; errors ignored.
pub fn out_text(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = write!(o, "{s}");
    let _ = o.flush();
}

/// Input echoed back in a message: in backquotes, control characters escaped (`\n`, `\u{1b}`),
/// cut to 64 characters, so a hostile value cannot garble the terminal or flood it.
pub fn shown(s: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = s
        .chars()
        .take(MAX)
        .flat_map(|c| {
            let e: Vec<char> = if c.is_control() { c.escape_debug().collect() } else { vec![c] };
            e
        })
        .collect();
    if s.chars().count() > MAX {
        out.push_str(&format!("… ({} characters)", s.chars().count()));
    }
    format!("`{out}`")
}
