//! tt-inference-server: its naming rules, its performance reference file, the standardized
//! per-run JSON it reads, and `export tt` (one flat folder in its layout).

pub mod export;
pub mod names;
pub mod reference;
pub mod spec;
pub mod standard;
