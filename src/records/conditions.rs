//! `conditions` in `process_result.json`: what a run ran on, sampled during the run (see
//! `run::conditions`), and the rule that calls a machine busy.

use serde::{Deserialize, Serialize};

/// A series' mean and largest value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanMax {
    pub mean: f64,
    pub max: f64,
}

/// One GPU over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuConditions {
    pub sm_clock_mhz: Option<MeanMax>,
    pub temperature_c: Option<MeanMax>,
    pub power_w: Option<MeanMax>,
    /// `clocks_throttle_reasons.active` values seen (empty: never throttled).
    #[serde(default)]
    pub throttle_reasons: Vec<String>,
}

/// The conditions of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    pub samples: u32,
    pub seconds: f64,
    pub cpus: usize,
    /// CPU time other processes (not this batch's server and aiperf) took over the run, as a
    /// share of all CPUs (0 to 1).
    pub other_cpu: Option<f64>,
    /// CPU time stolen by a hypervisor, as a share of all CPU time.
    pub steal: Option<f64>,
    pub load_avg_1m: Option<MeanMax>,
    /// Mean `cpu MHz` over the CPUs, where the kernel shows it.
    pub cpu_mhz: Option<MeanMax>,
    /// Memory pressure (`/proc/pressure/memory`, `some avg10`), in %.
    pub memory_pressure_pct: Option<MeanMax>,
    #[serde(default)]
    pub gpus: Vec<GpuConditions>,
}

/// Other processes took more than this share of the CPUs: the machine was busy.
pub const BUSY_OTHER_CPU: f64 = 0.25;
/// A hypervisor stole more than this share of CPU time: the machine was busy.
pub const BUSY_STEAL: f64 = 0.05;
/// Tasks waited for memory more than this % of the time: the machine was busy.
pub const BUSY_MEMORY_PRESSURE_PCT: f64 = 10.0;

impl Conditions {
    /// Why the run was measured on a busy machine, if it was.
    pub fn busy(&self) -> Option<String> {
        let mut why = Vec::new();
        if let Some(o) = self.other_cpu.filter(|o| *o > BUSY_OTHER_CPU) {
            why.push(format!("other processes took {:.0}% of the {} CPUs", o * 100.0, self.cpus));
        }
        if let Some(s) = self.steal.filter(|s| *s > BUSY_STEAL) {
            why.push(format!("{:.0}% of CPU time was stolen by the hypervisor", s * 100.0));
        }
        if let Some(p) = self.memory_pressure_pct.filter(|p| p.max > BUSY_MEMORY_PRESSURE_PCT) {
            why.push(format!("memory pressure up to {:.0}%", p.max));
        }
        for (i, g) in self.gpus.iter().enumerate() {
            if !g.throttle_reasons.is_empty() {
                why.push(format!("GPU {i} throttled ({})", g.throttle_reasons.join(", ")));
            }
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}
