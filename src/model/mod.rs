//! The shared vocabulary, a leaf: the metric table, the aiperf option table, SLO keys.

pub mod aiperf_options;
pub mod diagnostic;
pub mod metrics;
pub mod options;
pub mod slo;
