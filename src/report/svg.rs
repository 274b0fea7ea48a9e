//! Inline SVG charts drawn by hand (no JavaScript): line charts over load and a scatter with its
//! Pareto front. Output is a self-contained `<svg>` element.

use std::fmt::Write;

use crate::util::number;

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
    /// Confidence intervals of the y values, aligned with `points` (empty: none): error bars.
    pub y_ci: Vec<Option<(f64, f64)>>,
    /// Confidence intervals of the x values, aligned with `points` (empty: none).
    pub x_ci: Vec<Option<(f64, f64)>>,
    /// Whether each point met the SLO of a load search, aligned with `points` (empty: not
    /// judged). Failing points are drawn hollow and red.
    pub slo_pass: Vec<Option<bool>>,
}

impl Series {
    /// A series without error bars.
    pub fn new(
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Self {
        Series {
            name: name.into(),
            points,
            style,
            color,
            y_ci: Vec::new(),
            x_ci: Vec::new(),
            slo_pass: Vec::new(),
        }
    }

    /// Point `i` with its intervals (finite ones only).
    fn point(&self, i: usize) -> Drawn {
        let ok = |c: Option<&Option<(f64, f64)>>| {
            c.copied().flatten().filter(|(a, b)| a.is_finite() && b.is_finite())
        };
        let (x, y) = self.points[i];
        Drawn {
            x,
            y,
            y_ci: ok(self.y_ci.get(i)),
            x_ci: ok(self.x_ci.get(i)),
            pass: self.slo_pass.get(i).copied().flatten(),
        }
    }
}

/// A point as drawn: its position and error bars.
#[derive(Debug, Clone, Copy)]
struct Drawn {
    x: f64,
    y: f64,
    y_ci: Option<(f64, f64)>,
    x_ci: Option<(f64, f64)>,
    pass: Option<bool>,
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

/// A round step (1, 2 or 5 times a power of ten) that cuts `lo..hi` into about five. Computed
/// from `hi / 5 - lo / 5`, which is finite for any finite `lo` and `hi`.
fn nice_step(lo: f64, hi: f64) -> f64 {
    let raw = hi / 5.0 - lo / 5.0;
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

/// Where `v` lies between `lo` and `hi` (0 to 1), without overflowing where `hi - lo` would
/// (`-1.7e308..1.7e308`): halving is exact, so ordinary values get the same result as
/// `(v - lo) / (hi - lo)`.
fn frac(v: f64, lo: f64, hi: f64) -> f64 {
    (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0)
}

/// `v` clamped to the finite range (an axis end rounded past `f64::MAX` stays drawable).
fn finite(v: f64) -> f64 {
    v.clamp(f64::MIN, f64::MAX)
}

/// `lo..hi` widened around a single value (`lo == hi`, or closer than `hi` can tell apart): by 1
/// for ordinary values, by half the value where 1 is below its precision.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let w = if lo.abs().max(hi.abs()) < 1e12 { 1.0 } else { lo.abs().max(hi.abs()) / 2.0 };
    (finite(lo - w), finite(hi + w))
}

fn fmt_tick(v: f64) -> String {
    if !number::is_ordinary(v) {
        number::fixed(v, 0)
    } else if v.abs() >= 1000.0 || v.fract().abs() < 1e-9 {
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

/// The plot's scales: the data ranges (x in axis units, log2 of the value on a log axis) fitted
/// to the plot area.
struct Axes {
    log_x: bool,
    /// Every x is an integer (concurrency, request count): integer ticks only.
    integer_x: bool,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    ystep: f64,
    /// The plot area's width and height.
    pw: f64,
    ph: f64,
}

impl Axes {
    /// Ranges that hold `pts` (not empty, all drawable): y from 0 or below, rounded to ticks; x
    /// padded by 8%. Every computation stays finite for any finite input, up to +-f64::MAX.
    fn fit(pts: &[(f64, f64)], log_x: bool) -> Axes {
        let tx = |x: f64| if log_x { x.log2() } else { x };
        let integer_x = pts.iter().all(|p| p.0.fract() == 0.0);
        let (mut x0, mut x1) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(tx(p.0)), b.max(tx(p.0))));
        let mut y1 = pts.iter().fold(f64::NEG_INFINITY, |a, p| a.max(p.1));
        let mut y0 = pts.iter().fold(f64::INFINITY, |a, p| a.min(p.1)).min(0.0);
        if x1 / 2.0 - x0 / 2.0 < 0.5e-12 {
            (x0, x1) = widen(x0, x1);
        }
        if y1 / 2.0 - y0 / 2.0 < 0.5e-12 {
            (_, y1) = widen(y0, y1);
        }
        let ystep = nice_step(y0, y1);
        y1 = finite((y1 / ystep).ceil() * ystep);
        y0 = finite((y0 / ystep).floor() * ystep);
        let xpad = (x1 / 2.0 - x0 / 2.0) * 0.08;
        let (x0, x1) = (finite(x0 - xpad), finite(x1 + xpad));
        Axes { log_x, integer_x, x0, x1, y0, y1, ystep, pw: W - LEFT - RIGHT, ph: H - TOP - BOTTOM }
    }

    /// Whether a point can be drawn on these axes.
    fn drawable(&self, x: f64, y: f64) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0)
    }

    /// The horizontal pixel of `x`.
    fn px(&self, x: f64) -> f64 {
        let x = if self.log_x { x.log2() } else { x };
        LEFT + frac(x, self.x0, self.x1) * self.pw
    }

    /// The vertical pixel of `y`.
    fn py(&self, y: f64) -> f64 {
        TOP + self.ph - frac(y, self.y0, self.y1) * self.ph
    }

    /// The x ticks: powers of two on a log axis (every k-th beyond 12 octaves), else 1, 2 or 5
    /// times a power of ten (an integer once it is at least 1).
    fn x_ticks(&self) -> Vec<f64> {
        let (x0, x1) = (self.x0, self.x1);
        if self.log_x {
            let (a, b) = ((x0.ceil()) as i32, (x1.floor()) as i32);
            let every = usize::try_from(b.saturating_sub(a)).unwrap_or(0).div_ceil(12).max(1);
            return (a..=b)
                .step_by(every)
                .map(|e| 2f64.powi(e))
                .filter(|x| x.is_finite() && *x > 0.0 && (!self.integer_x || *x >= 1.0))
                .collect();
        }
        let step = if self.integer_x { nice_step(x0, x1).max(1.0) } else { nice_step(x0, x1) };
        let mut v = Vec::new();
        let mut x = (x0 / step).ceil() * step;
        while x <= x1 && v.len() < 30 {
            v.push(x);
            x += step;
        }
        v
    }

    /// The grid with its y and x ticks.
    fn grid(&self, s: &mut String) {
        // Tick loops are capped: with huge values a small step may not move `y` at all.
        let mut y = self.y0;
        let mut ticks = 0;
        while y.is_finite() && y <= self.y1 + self.ystep * 1e-6 && ticks < 30 {
            ticks += 1;
            let yy = self.py(y);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
                LEFT + self.pw,
                LEFT - 6.0,
                yy + 4.0,
                fmt_tick(y)
            );
            y += self.ystep;
        }
        for x in self.x_ticks() {
            let xx = self.px(x);
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#f0f0f0"/><text class="xtick" x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
                TOP + self.ph,
                TOP + self.ph + 16.0,
                fmt_tick(x)
            );
        }
    }

    /// The two axes and their labels.
    fn frame(&self, s: &mut String, x_label: &str, y_label: &str) {
        let (pw, ph) = (self.pw, self.ph);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
            TOP + ph,
            LEFT + pw,
            TOP + ph,
            TOP + ph,
            LEFT + pw / 2.0,
            H - 12.0,
            esc(x_label),
            TOP + ph / 2.0,
            esc(y_label)
        );
    }
}

impl Chart {
    /// The `<svg>` element. A chart with no finite point says so instead of drawing axes.
    pub fn render(&self) -> String {
        let pts = self.extent();
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
        let ax = Axes::fit(&pts, self.log_x);
        ax.grid(&mut s);
        ax.frame(&mut s, &self.x_label, &self.y_label);
        // Series, then legend.
        for (i, se) in self.series.iter().enumerate() {
            draw_series(&mut s, &ax, i, se);
        }
        s.push_str("</svg>");
        s
    }

    /// Every drawable point, and the ends of its error bars: the axes' ranges hold them all.
    fn extent(&self) -> Vec<(f64, f64)> {
        let drawable = |x: f64, y: f64| x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0);
        let mut pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| drawable(*x, *y))
            .collect();
        // Error bars stay inside the plot: their ends count for the axes' ranges.
        let ends: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| (0..s.points.len()).map(move |i| s.point(i)))
            .filter(|d| drawable(d.x, d.y))
            .flat_map(|d| {
                let ys = d.y_ci.map(|(a, b)| [(d.x, a), (d.x, b)]);
                let xs = d.x_ci.map(|(a, b)| [(a, d.y), (b, d.y)]);
                ys.into_iter().chain(xs).flatten()
            })
            .filter(|(x, y)| drawable(*x, *y))
            .collect();
        pts.extend(ends);
        pts
    }
}

/// Series `i`: its error bars, line and markers in a `<g>`, then its legend entry.
fn draw_series(s: &mut String, ax: &Axes, i: usize, se: &Series) {
    let color =
        if se.style == Style::Front { FRONT_COLOR } else { PALETTE[se.color % PALETTE.len()] };
    let mut drawn: Vec<Drawn> =
        (0..se.points.len()).map(|i| se.point(i)).filter(|d| ax.drawable(d.x, d.y)).collect();
    if se.style != Style::Points {
        drawn.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    let _ = write!(s, r##"<g class="series" data-name="{}">"##, esc(&se.name));
    // Error bars (confidence intervals) under the markers, with caps.
    for d in &drawn {
        error_bars(s, ax, d, color);
    }
    polyline(s, ax, se.style, &drawn, color);
    for d in &drawn {
        marker(s, ax, se, d, color);
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

/// A point's error bars, vertical (y interval) and horizontal (x interval), with caps.
fn error_bars(s: &mut String, ax: &Axes, d: &Drawn, color: &str) {
    if let Some((lo, hi)) = d.y_ci {
        let (xx, a, b) = (ax.px(d.x), ax.py(lo), ax.py(hi));
        let _ = write!(
            s,
            r##"<path class="errbar" stroke="{color}" stroke-width="1.2" fill="none" d="M{xx:.1},{a:.1}V{b:.1}M{:.1},{a:.1}H{:.1}M{:.1},{b:.1}H{:.1}"/>"##,
            xx - 4.0,
            xx + 4.0,
            xx - 4.0,
            xx + 4.0
        );
    }
    if let Some((lo, hi)) = d.x_ci.filter(|(lo, _)| !ax.log_x || *lo > 0.0) {
        let (yy, a, b) = (ax.py(d.y), ax.px(lo), ax.px(hi));
        let _ = write!(
            s,
            r##"<path class="errbar" stroke="{color}" stroke-width="1.2" fill="none" d="M{a:.1},{yy:.1}H{b:.1}M{a:.1},{:.1}V{:.1}M{b:.1},{:.1}V{:.1}"/>"##,
            yy - 4.0,
            yy + 4.0,
            yy - 4.0,
            yy + 4.0
        );
    }
}

/// The line joining a series' points (not for markers only, nor for a single point).
fn polyline(s: &mut String, ax: &Axes, style: Style, drawn: &[Drawn], color: &str) {
    if style == Style::Points || drawn.len() < 2 {
        return;
    }
    let coords: Vec<String> =
        drawn.iter().map(|d| format!("{:.1},{:.1}", ax.px(d.x), ax.py(d.y))).collect();
    let dash = if style == Style::Dashed { r##" stroke-dasharray="6 4""## } else { "" };
    let width = if style == Style::Front { 3.0 } else { 2.0 };
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="{color}" stroke-width="{width}"{dash} points="{}"/>"##,
        coords.join(" ")
    );
}

/// A point's marker with its tooltip: hollow and red when it breaks the SLO.
fn marker(s: &mut String, ax: &Axes, se: &Series, d: &Drawn, color: &str) {
    let r = if se.style == Style::Front { 5.0 } else { 3.5 };
    let (class, fill, stroke, note) = match d.pass {
        Some(false) => ("point fail", "#fff", FRONT_COLOR, " breaks the SLO"),
        Some(true) => ("point pass", color, color, " meets the SLO"),
        None if se.style == Style::Front => ("point", "none", color, ""),
        None => ("point", color, color, ""),
    };
    let r = if d.pass == Some(false) { r + 1.5 } else { r };
    let _ = write!(
        s,
        r##"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="{r}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"><title>{}: ({}, {}){note}</title></circle>"##,
        ax.px(d.x),
        ax.py(d.y),
        esc(&se.name),
        fmt_tick(d.x),
        fmt_tick(d.y)
    );
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

    /// The longest run of consecutive ASCII digits in `s`.
    fn longest_digits(s: &str) -> usize {
        s.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
    }

    #[test]
    fn extreme_values_draw_finite_coordinates_and_short_labels() {
        let series = |points: Vec<(f64, f64)>| Series::new("s", points, Style::Line, 0);
        let cases = [
            (false, vec![(1.0, 1.7e308), (2.0, -1.7e308), (3.0, 1e-300)]),
            (false, vec![(-1.7e308, 1.0), (1.7e308, 2.0)]),
            (false, vec![(1.7e308, -1.7e308)]),
            (false, vec![(f64::MAX, f64::MAX), (f64::MAX, f64::MAX)]),
            (true, vec![(1.0, 5.0), (1.7e308, 6.0), (f64::MIN_POSITIVE, 7.0)]),
            (false, vec![(1e-300, 2e-300), (3e-300, 4e-300)]),
        ];
        for (log_x, points) in cases {
            let chart = Chart {
                id: "c".into(),
                title: "t".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                log_x,
                series: vec![series(points.clone())],
            };
            let svg = chart.render();
            assert!(longest_digits(&svg) < 20, "{points:?}: {svg}");
            for bad in ["NaN", "inf"] {
                assert!(!svg.contains(bad), "{points:?}: `{bad}` in {svg}");
            }
            assert!(svg.contains("<circle"), "{points:?}: no point drawn in {svg}");
        }
    }

    /// The x tick labels of a chart of `xs`.
    fn x_ticks(log_x: bool, xs: &[f64]) -> Vec<String> {
        let chart = Chart {
            id: "c".into(),
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x,
            series: vec![Series::new(
                "s",
                xs.iter().map(|&x| (x, x * 3.0)).collect(),
                Style::Line,
                0,
            )],
        };
        chart
            .render()
            .split(r#"<text class="xtick""#)
            .skip(1)
            .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].to_owned())
            .collect()
    }

    /// Regression (issue 13): concurrency 1, 2, 4 was labelled 1, 1.5, 2, 2.5...
    #[test]
    fn integer_valued_axes_get_integer_ticks() {
        assert_eq!(x_ticks(false, &[1.0, 2.0, 4.0]), ["1", "2", "3", "4"]);
        assert_eq!(x_ticks(false, &[3.0]), ["2", "3", "4"]);
        assert_eq!(x_ticks(false, &[1.0, 2.0]), ["1", "2"]);
        assert_eq!(x_ticks(true, &[1.0, 8.0, 64.0]), ["1", "2", "4", "8", "16", "32", "64"]);
        // Fractional values keep fractional ticks.
        assert_eq!(x_ticks(false, &[0.5, 1.5, 2.0]), ["0.5", "1", "1.5", "2"]);
    }

    #[test]
    fn pareto_front_keeps_undominated_points() {
        let pts = [(1.0, 10.0), (2.0, 8.0), (3.0, 9.0), (4.0, 2.0), (2.5, 1.0)];
        assert_eq!(pareto_front(&pts), vec![(1.0, 10.0), (3.0, 9.0), (4.0, 2.0)]);
    }
}
