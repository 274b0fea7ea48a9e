//! Interleaved repeats: every point of the sweep run `count` times, each repeat in its own
//! directory (`<point dir>/repeat_<k>`).

use super::Combination;

/// Interleaved repeats: every point becomes `count` runs, `<point dir>/repeat_<k>`, numbered
/// point-major (`point x count + k - 1`); [`Plan::run_order`](super::Plan::run_order) runs them repeat-major.
pub(super) fn interleave(points: Vec<Combination>, count: u32) -> Vec<Combination> {
    let mut out = Vec::with_capacity(points.len() * count as usize);
    for p in points {
        for k in 1..=count {
            let mut c = p.clone();
            c.index = out.len();
            c.repeat = Some(k);
            c.point = p.index;
            c.dir = if p.dir.is_empty() {
                format!("repeat_{k}")
            } else {
                format!("{}/repeat_{k}", p.dir)
            };
            out.push(c);
        }
    }
    out
}
