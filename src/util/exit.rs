//! The exit codes of every command (the table in the README).

/// Every combination succeeded (or: the command did what was asked).
pub const EXIT_OK: u8 = 0;
/// At least one combination failed (or a target check failed with `--fail-on-target`).
pub const EXIT_FAILED: u8 = 1;
/// Usage, config or setup error: nothing ran.
pub const EXIT_CONFIG: u8 = 2;
/// Interrupted by Ctrl-C: finished runs are kept, the server was stopped.
pub const EXIT_INTERRUPTED: u8 = 130;
