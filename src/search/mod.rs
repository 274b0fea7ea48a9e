//! Load search under SLOs (`search`, `stop_when`): the verdict on a run, the next probe, the
//! ladders' early stop, and the "Max load under SLO" report section.

pub mod ladder;
pub mod max_load;
pub mod probe;
pub mod spec;
pub mod verdict;
