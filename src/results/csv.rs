//! `profile_export_aiperf.csv`: aiperf's CSV export (CRLF, several sections, display names).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// One row of the statistics section: `Time to First Token (ms),21.71,...`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvStatRow {
    /// Display name without the unit: `Time to First Token`.
    pub name: String,
    /// The unit in the last parentheses, if any: `ms`.
    pub unit: Option<String>,
    /// Header stat (`avg`, `p99`...) -> value; empty cells are absent.
    pub stats: BTreeMap<String, f64>,
}

/// One row of the `Metric,Value` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvScalarRow {
    pub name: String,
    pub unit: Option<String>,
    pub value: f64,
}

/// The whole file. Sections aiperf may add later (GPU telemetry...) are kept as raw rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CsvExport {
    pub stats: Vec<CsvStatRow>,
    pub scalars: Vec<CsvScalarRow>,
    /// Other sections: header -> rows.
    pub other_sections: Vec<(Vec<String>, Vec<Vec<String>>)>,
}

impl CsvExport {
    /// A statistics row by display name (`Time to First Token`).
    pub fn stat(&self, name: &str) -> Option<&CsvStatRow> {
        self.stats.iter().find(|r| r.name == name)
    }

    /// A scalar row by display name (`Request Throughput`).
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.scalars.iter().find(|r| r.name == name).map(|r| r.value)
    }
}

/// Splits `Time to First Token (ms)` into the name and the unit.
pub fn split_unit(display: &str) -> (String, Option<String>) {
    let d = display.trim();
    if d.ends_with(')')
        && let Some(open) = d.rfind(" (")
    {
        return (d[..open].to_owned(), Some(d[open + 2..d.len() - 1].to_owned()));
    }
    (d.to_owned(), None)
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<CsvExport, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read `{}`: {e}", path.display()))?;
    parse_str(&text, path)
}

enum Section {
    None,
    Stats(Vec<String>),
    Scalars,
    Other,
}

/// Parses the text of a `profile_export_aiperf.csv`; `path` only names the file in messages.
pub fn parse_str(text: &str, path: &Path) -> Result<CsvExport, String> {
    let mut out = CsvExport::default();
    let mut section = Section::None;
    for (i, raw) in text.split('\n').enumerate() {
        let lineno = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            section = Section::None;
            continue;
        }
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
        let cells: Vec<String> = match rdr.records().next() {
            Some(Ok(r)) => r.iter().map(str::to_owned).collect(),
            Some(Err(e)) => {
                return Err(format!("failed to parse `{}:{lineno}`: {e}", path.display()));
            }
            None => continue,
        };
        let bad = |what: &str| {
            format!(
                "failed to parse `{}:{lineno}`: {what}\nhint: the file is truncated or corrupt",
                path.display()
            )
        };
        match &section {
            Section::None => {
                section =
                    match (cells.first().map(String::as_str), cells.get(1).map(String::as_str)) {
                        (Some("Metric"), Some("Value")) => Section::Scalars,
                        (Some("Metric"), Some(_)) => Section::Stats(cells[1..].to_vec()),
                        _ => {
                            out.other_sections.push((cells, Vec::new()));
                            Section::Other
                        }
                    };
            }
            Section::Stats(header) => {
                if cells.len() > header.len() + 1 {
                    return Err(bad(&format!(
                        "expected at most {} cells, found {}",
                        header.len() + 1,
                        cells.len()
                    )));
                }
                let (name, unit) = split_unit(&cells[0]);
                let mut stats = BTreeMap::new();
                for (h, c) in header.iter().zip(&cells[1..]) {
                    if c.trim().is_empty() {
                        continue;
                    }
                    let v: f64 = c
                        .trim()
                        .parse()
                        .map_err(|_| bad(&format!("`{c}` in column `{h}` is not a number")))?;
                    stats.insert(h.clone(), v);
                }
                out.stats.push(CsvStatRow { name, unit, stats });
            }
            Section::Scalars => {
                let (name, unit) = split_unit(&cells[0]);
                let c = cells.get(1).ok_or_else(|| bad("missing value"))?;
                let value: f64 =
                    c.trim().parse().map_err(|_| bad(&format!("`{c}` is not a number")))?;
                out.scalars.push(CsvScalarRow { name, unit, value });
            }
            Section::Other => {
                if let Some(last) = out.other_sections.last_mut() {
                    last.1.push(cells);
                }
            }
        }
    }
    Ok(out)
}
