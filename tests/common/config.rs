//! Configs: written to a file, edited in place, loaded and planned in-process, and the config of
//! a sweep with the real aiperf against the built-in mock server.

use std::path::{Path, PathBuf};

use sweeper::config::{Config, LoadOptions, load_str};
use sweeper::plan::Plan;

/// Writes `yaml` to `<dir>/<file>` and returns the path.
pub fn write(dir: &Path, file: &str, yaml: &str) -> PathBuf {
    let f = dir.join(file);
    std::fs::write(&f, yaml).unwrap_or_else(|e| panic!("write {}: {e}", f.display()));
    f
}

/// Rewrites the config at `path` with `change` applied to its text.
pub fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, change(text)).unwrap();
}

/// Loads config text in-process, as if read from `t.yaml`; panics when it does not load.
pub fn load(yaml: &str) -> Config {
    load_str(Path::new("t.yaml"), yaml.to_owned(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("config should load:\n{e}\n---\n{yaml}"))
}

/// The config text loaded and its plan; panics when it does not expand.
pub fn plan_of(yaml: &str) -> (Config, Plan) {
    let cfg = load(yaml);
    let p = sweeper::plan::expand(&cfg).unwrap_or_else(|e| panic!("config should expand:\n{e}"));
    (cfg, p)
}

/// The plan of config text.
pub fn plan(yaml: &str) -> Plan {
    plan_of(yaml).1
}

/// A config running the real aiperf against the built-in mock server: `server: {kind: mock}`,
/// and a `base_config` with `mock-model`, the offline tokenizer, streaming, no GPU telemetry
/// (the mock has none) and no server metrics (unless [`MockSweep::server_metrics`]), plus what
/// the test adds.
pub struct MockSweep {
    name: String,
    output: Option<String>,
    server: String,
    model: String,
    base: Vec<String>,
    rest: String,
    server_metrics: bool,
}

impl MockSweep {
    /// A config of batch `name`.
    pub fn new(name: &str) -> MockSweep {
        MockSweep {
            name: name.into(),
            output: None,
            server: String::new(),
            model: "mock-model".into(),
            base: Vec::new(),
            rest: String::new(),
            server_metrics: false,
        }
    }

    /// `output_base_dir` (by default sweeper's, relative to where it runs).
    pub fn output(mut self, dir: &Path) -> MockSweep {
        self.output = Some(dir.display().to_string());
        self
    }

    /// More mock server settings, in YAML flow style (`error_rate: 0.25, seed: 3`).
    pub fn server(mut self, settings: &str) -> MockSweep {
        self.server = format!(", {settings}");
        self
    }

    /// `base_config.model`, instead of `mock-model`.
    pub fn model(mut self, model: &str) -> MockSweep {
        self.model = model.into();
        self
    }

    /// More `base_config` entries, one `key: value` each.
    pub fn base(mut self, entries: &[&str]) -> MockSweep {
        self.base.extend(entries.iter().map(|e| format!("  {e}\n")));
        self
    }

    /// aiperf scrapes the mock's `/metrics` during each run (off by default: it costs time).
    pub fn server_metrics(mut self) -> MockSweep {
        self.server_metrics = true;
        self
    }

    /// Top-level YAML after `base_config` (sweeps, repeats, search...).
    pub fn rest(mut self, yaml: &str) -> MockSweep {
        self.rest.push_str(yaml);
        self
    }

    /// The config's text.
    pub fn text(&self) -> String {
        let output = self.output.as_ref().map(|o| format!("output_base_dir: {o}\n"));
        format!(
            "batch_name: {}\n{}server: {{kind: mock{}}}\nbase_config:\n  model: {}\n  tokenizer: '@offline'\n  streaming: true\n{}{}  no_gpu_telemetry: true\n{}",
            self.name,
            output.unwrap_or_default(),
            self.server,
            self.model,
            self.base.concat(),
            if self.server_metrics { "" } else { "  no_server_metrics: true\n" },
            self.rest
        )
    }

    /// Writes the config to `<dir>/<file>`.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        write(dir, file, &self.text())
    }
}
