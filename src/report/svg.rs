//! Inline SVG charts drawn by hand (no JavaScript): line charts over load and a scatter with its
//! Pareto front. Output is a self-contained `<svg>` element.

use std::fmt::Write;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Markers joined by a solid line.
    Line,
    /// Markers joined by a dashed line.
    Dashed,
    /// Markers only.
    Points,
    /// A thick highlighted line (the Pareto front).
    Front,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette.
    pub color: usize,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Log2 x axis (for concurrency 1, 2, 4... 256).
    pub log_x: bool,
    pub series: Vec<Series>,
}

const PALETTE: [&str; 8] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];
const FRONT_COLOR: &str = "#d62728";
const W: f64 = 860.0;
const H: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 52.0;

/// XML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn nice_step(range: f64) -> f64 {
    let raw = range / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 1000.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

/// Pareto front of points where both coordinates are better when higher: the points no other
/// point beats on both, sorted by x.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> =
        points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    pts.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let mut front = Vec::new();
    let mut best_y = f64::NEG_INFINITY;
    for p in pts {
        if p.1 > best_y {
            front.push(p);
            best_y = p.1;
        }
    }
    front.reverse();
    front
}

impl Chart {
    /// The `<svg>` element. A chart with no finite point says so instead of drawing axes.
    pub fn render(&self) -> String {
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_x || *x > 0.0))
            .collect();
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="12"><title>{}</title><rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/><text x="{}" y="22" font-size="15" font-weight="bold">{}</text>"##,
            esc(&self.id),
            esc(&self.title),
            LEFT,
            esc(&self.title)
        );
        if pts.is_empty() {
            let _ = write!(
                s,
                r##"<text class="no-data" x="{}" y="{}" fill="#666">no data yet</text></svg>"##,
                W / 2.0 - 40.0,
                H / 2.0
            );
            return s;
        }
        let tx = |x: f64| if self.log_x { x.log2() } else { x };
        let (mut x0, mut x1) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(tx(p.0)), b.max(tx(p.0))));
        let mut y1 = pts.iter().fold(f64::NEG_INFINITY, |a, p| a.max(p.1));
        let mut y0 = pts.iter().fold(f64::INFINITY, |a, p| a.min(p.1)).min(0.0);
        if x1 - x0 < 1e-12 {
            x0 -= 1.0;
            x1 += 1.0;
        }
        if y1 - y0 < 1e-12 {
            y1 = y0 + 1.0;
        }
        let ystep = nice_step(y1 - y0);
        y1 = (y1 / ystep).ceil() * ystep;
        y0 = (y0 / ystep).floor() * ystep;
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let xpad = (x1 - x0) * 0.04;
        let (x0, x1) = (x0 - xpad, x1 + xpad);
        let px = |x: f64| LEFT + (tx(x) - x0) / (x1 - x0) * pw;
        let py = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
        // Grid and y ticks.
        // Tick loops are capped: with huge values a small step may not move `y` at all.
        let mut y = y0;
        let mut ticks = 0;
        while y <= y1 + ystep * 1e-6 && ticks < 30 {
            ticks += 1;
            let yy = TOP + ph - (y - y0) / (y1 - y0) * ph;
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                yy + 4.0,
                fmt_tick(y)
            );
            y += ystep;
        }
        // X ticks.
        let xticks: Vec<f64> = if self.log_x {
            let (a, b) = ((x0.ceil()) as i32, (x1.floor()) as i32);
            (a..=b).take(30).map(|e| 2f64.powi(e)).collect()
        } else {
            let step = nice_step(x1 - x0);
            let mut v = Vec::new();
            let mut x = (x0 / step).ceil() * step;
            while x <= x1 && v.len() < 30 {
                v.push(x);
                x += step;
            }
            v
        };
        for x in xticks {
            let xx = px(x);
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
                TOP + ph,
                TOP + ph + 16.0,
                fmt_tick(x)
            );
        }
        // Axes and labels.
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
            TOP + ph,
            LEFT + pw,
            TOP + ph,
            TOP + ph,
            LEFT + pw / 2.0,
            H - 12.0,
            esc(&self.x_label),
            TOP + ph / 2.0,
            esc(&self.y_label)
        );
        // Series, then legend.
        for (i, se) in self.series.iter().enumerate() {
            let color = if se.style == Style::Front {
                FRONT_COLOR
            } else {
                PALETTE[se.color % PALETTE.len()]
            };
            let mut sp: Vec<(f64, f64)> = se
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_x || *x > 0.0))
                .collect();
            if se.style != Style::Points {
                sp.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let coords: Vec<String> =
                sp.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
            let _ = write!(s, r##"<g class="series" data-name="{}">"##, esc(&se.name));
            match se.style {
                Style::Line | Style::Dashed | Style::Front if coords.len() > 1 => {
                    let dash =
                        if se.style == Style::Dashed { r##" stroke-dasharray="6 4""## } else { "" };
                    let width = if se.style == Style::Front { 3.0 } else { 2.0 };
                    let _ = write!(
                        s,
                        r##"<polyline fill="none" stroke="{color}" stroke-width="{width}"{dash} points="{}"/>"##,
                        coords.join(" ")
                    );
                }
                _ => {}
            }
            for (x, y) in &sp {
                let r = if se.style == Style::Front { 5.0 } else { 3.5 };
                let fill = if se.style == Style::Front { "none" } else { color };
                let _ = write!(
                    s,
                    r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="{r}" fill="{fill}" stroke="{color}" stroke-width="1.5"><title>{}: ({}, {})</title></circle>"##,
                    px(*x),
                    py(*y),
                    esc(&se.name),
                    fmt_tick(*x),
                    fmt_tick(*y)
                );
            }
            s.push_str("</g>");
            let ly = TOP + 8.0 + i as f64 * 18.0;
            let lx = W - RIGHT + 14.0;
            let dash = if se.style == Style::Dashed { r##" stroke-dasharray="6 4""## } else { "" };
            let _ = write!(
                s,
                r##"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{}" y="{}" fill="#222">{}</text>"##,
                lx + 22.0,
                lx + 28.0,
                ly + 4.0,
                esc(&truncate(&se.name, 28))
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_keeps_undominated_points() {
        let pts = [(1.0, 10.0), (2.0, 8.0), (3.0, 9.0), (4.0, 2.0), (2.5, 1.0)];
        assert_eq!(pareto_front(&pts), vec![(1.0, 10.0), (3.0, 9.0), (4.0, 2.0)]);
    }
}
