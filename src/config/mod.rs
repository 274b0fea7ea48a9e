//! Load and validate a batch config: YAML -> schema check -> semantic checks -> `Config`.

pub mod aiperf_options;
pub mod options;
