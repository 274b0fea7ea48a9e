//! Small helpers every layer may use: how numbers are written, secret redaction, exit codes.

pub mod exit;
pub mod number;
pub mod redact;
pub mod shell;
pub mod term;
pub mod url;
