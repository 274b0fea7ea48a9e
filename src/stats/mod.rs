//! Statistics: samples and percentiles, repeats of one point (mean, spread, noise),
//! confidence intervals, Welch's test and the regression gate's verdict on a figure. Pure functions over numbers and the metric table.

pub mod confidence;
pub mod gate;
pub mod repeats;
pub mod samples;
pub mod select;
