//! Cost room: the `cost` section of a config (dollars per hour, or per GPU-hour x GPUs) and
//! each point's dollars per million tokens and tokens/s per GPU.

pub mod figures;
pub mod spec;

pub use figures::CostFigures;
pub use spec::{Basis, CostConfig};
