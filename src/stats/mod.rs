//! Statistics: samples and percentiles, repeats of one point (mean, spread, noise),
//! confidence intervals and Welch's test. Pure functions over numbers and the metric table.

pub mod confidence;
pub mod repeats;
pub mod samples;
