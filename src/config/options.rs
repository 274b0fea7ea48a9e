//! The aiperf option model: what kind of value each `aiperf profile` option takes.

/// The value an option takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptKind {
    /// A flag: `true` -> `--flag`, `false` -> `--no-flag` when it exists, else omitted.
    Bool,
    Int {
        min: i64,
    },
    Number {
        min: f64,
        exclusive: bool,
    },
    Str,
    Enum(&'static [&'static str]),
    /// A string or a list of strings; a list repeats the flag.
    List,
    /// `key:value` strings, as a list or a mapping (`extra_inputs: {ignore_eos: true}`).
    KeyValues,
    /// SLOs: a string `'tag:value tag:value'` or a mapping; always ONE argument.
    Goodput,
    /// A number or a string (e.g. `inf`).
    Scalar,
}

/// One `aiperf profile` option.
#[derive(Debug)]
pub struct AiperfOption {
    /// Long flags without `--`, the first is the canonical one; the rest are aliases.
    pub flags: &'static [&'static str],
    /// The `--no-...` form of a boolean flag, if aiperf has one.
    pub negation: Option<&'static str>,
    pub kind: OptKind,
    /// The help section it is listed in.
    pub section: &'static str,
    /// The first sentence of its help.
    pub help: &'static str,
}
