//! Expand a validated config into combinations, each with its directory and aiperf argv.
