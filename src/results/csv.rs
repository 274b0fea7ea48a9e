//! `profile_export_aiperf.csv`: aiperf's CSV export (CRLF, several sections, display names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Why a `profile_export_aiperf.csv` could not be read: the file, and the line at fault.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("failed to read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A line that is not CSV.
    #[error("failed to parse `{path}:{line}`: {source}")]
    Record { path: PathBuf, line: usize, source: csv::Error },
    #[error(
        "failed to parse `{path}:{line}`: expected at most {max} cells, found {found}{CORRUPT_HINT}"
    )]
    TooManyCells { path: PathBuf, line: usize, max: usize, found: usize },
    #[error(
        "failed to parse `{path}:{line}`: `{cell}` in column `{column}` is not a number{CORRUPT_HINT}"
    )]
    NotANumberIn { path: PathBuf, line: usize, cell: String, column: String },
    #[error("failed to parse `{path}:{line}`: missing value{CORRUPT_HINT}")]
    MissingValue { path: PathBuf, line: usize },
    #[error("failed to parse `{path}:{line}`: `{cell}` is not a number{CORRUPT_HINT}")]
    NotANumber { path: PathBuf, line: usize, cell: String },
}

/// What a malformed line's message ends with.
const CORRUPT_HINT: &str = "\nhint: the file is truncated or corrupt";

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<CsvExport, CsvError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| CsvError::Read { path: path.to_path_buf(), source })?;
    parse_str(&text, path)
}

enum Section {
    None,
    Stats(Vec<String>),
    Scalars,
    Other,
}

/// Parses the text of a `profile_export_aiperf.csv`; `path` only names the file in messages.
pub fn parse_str(text: &str, path: &Path) -> Result<CsvExport, CsvError> {
    let mut out = CsvExport::default();
    let mut section = Section::None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            section = Section::None;
            continue;
        }
        let at = At { path, line: i + 1 };
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
        let cells: Vec<String> = match rdr.records().next() {
            Some(Ok(r)) => r.iter().map(str::to_owned).collect(),
            Some(Err(source)) => {
                return Err(CsvError::Record { path: path.to_path_buf(), line: at.line, source });
            }
            None => continue,
        };
        match &section {
            Section::None => section = section_of(cells, &mut out),
            Section::Stats(header) => out.stats.push(stat_row(header, &cells, at)?),
            Section::Scalars => out.scalars.push(scalar_row(&cells, at)?),
            Section::Other => {
                if let Some(last) = out.other_sections.last_mut() {
                    last.1.push(cells);
                }
            }
        }
    }
    Ok(out)
}

/// Where a row is: the file and its line (1-based), for messages.
#[derive(Clone, Copy)]
struct At<'a> {
    path: &'a Path,
    line: usize,
}

/// The section a header row opens: statistics (`Metric,avg,...`), scalars (`Metric,Value`), or
/// another kept as raw rows in `out`.
fn section_of(cells: Vec<String>, out: &mut CsvExport) -> Section {
    match (cells.first().map(String::as_str), cells.get(1).map(String::as_str)) {
        (Some("Metric"), Some("Value")) => Section::Scalars,
        (Some("Metric"), Some(_)) => Section::Stats(cells[1..].to_vec()),
        _ => {
            out.other_sections.push((cells, Vec::new()));
            Section::Other
        }
    }
}

/// A row of the statistics section under `header`; empty cells are absent.
fn stat_row(header: &[String], cells: &[String], at: At<'_>) -> Result<CsvStatRow, CsvError> {
    if cells.len() > header.len() + 1 {
        return Err(CsvError::TooManyCells {
            path: at.path.to_path_buf(),
            line: at.line,
            max: header.len() + 1,
            found: cells.len(),
        });
    }
    let (name, unit) = split_unit(&cells[0]);
    let mut stats = BTreeMap::new();
    for (h, c) in header.iter().zip(&cells[1..]) {
        if c.trim().is_empty() {
            continue;
        }
        let v: f64 = c.trim().parse().map_err(|_| CsvError::NotANumberIn {
            path: at.path.to_path_buf(),
            line: at.line,
            cell: c.clone(),
            column: h.clone(),
        })?;
        stats.insert(h.clone(), v);
    }
    Ok(CsvStatRow { name, unit, stats })
}

/// A row of the `Metric,Value` section.
fn scalar_row(cells: &[String], at: At<'_>) -> Result<CsvScalarRow, CsvError> {
    let (name, unit) = split_unit(&cells[0]);
    let c = cells
        .get(1)
        .ok_or_else(|| CsvError::MissingValue { path: at.path.to_path_buf(), line: at.line })?;
    let value: f64 = c.trim().parse().map_err(|_| CsvError::NotANumber {
        path: at.path.to_path_buf(),
        line: at.line,
        cell: c.clone(),
    })?;
    Ok(CsvScalarRow { name, unit, value })
}
