//! The config file's types, mirroring the YAML one to one (serde + schemars). The JSON Schema in
//! `schemas/sweeper.schema.json` is generated from these types and the aiperf option table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use super::raw_schema::{
    FORBIDDEN_KEYS, MAX_OPTION_INT, SWEEPER_KEYS, base_config_properties, option_value_schema,
    schema, schema_text,
};
use super::raw_schema::{base_config_schema, exclude_schema, scenarios_schema, sweeps_schema};
pub use crate::search::spec::{Saturation, SearchConfig, SearchVariable, StopWhenConfig};
pub use crate::tt::spec::TtConfig;

/// A sweeper batch config. The NeMo Guardrails aiperf runner's format (`batch_name`,
/// `output_base_dir`, `base_config`, `sweeps`) works unchanged; the other keys are sweeper's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "sweeper batch config")]
pub struct RawConfig {
    /// Name of this batch; results go to `<output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>/`.
    #[serde(default = "default_batch_name")]
    #[schemars(length(min = 1), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub batch_name: String,

    /// Base directory of all results (relative paths are relative to the working directory).
    #[serde(default = "default_output_base_dir")]
    #[schemars(length(min = 1))]
    pub output_base_dir: PathBuf,

    /// Options of `aiperf profile` applied to every run, by the snake_case name of any of its long
    /// flags (`concurrency`, `prompt_input_tokens_mean` or `isl`, `request_rate_mode` or
    /// `arrival_pattern`, ...), plus sweeper's `api_key_env_var`, `health_check_endpoint` and
    /// `extra_args`.
    #[schemars(schema_with = "base_config_schema")]
    pub base_config: Map<String, Value>,

    /// Parameter sweeps: key -> non-empty list of values. Sweeper runs their Cartesian product
    /// (file order, the last key varies fastest). A `server.<field>` key sweeps a server setting
    /// (one server per value).
    #[serde(default)]
    #[schemars(schema_with = "sweeps_schema")]
    pub sweeps: Map<String, Value>,

    /// Explicit points, each a partial base_config (e.g. ISL/OSL pairs), crossed with `sweeps`.
    /// Scenarios are the outermost dimension of the product.
    #[serde(default)]
    #[schemars(schema_with = "scenarios_schema")]
    pub scenarios: Vec<Map<String, Value>>,

    /// Partial combinations to drop: a combination is skipped when it has every key/value of
    /// one entry.
    #[serde(default)]
    #[schemars(schema_with = "exclude_schema")]
    pub exclude: Vec<Map<String, Value>>,

    /// How the inference server is provisioned. Default: `external` at base_config.url.
    #[serde(default)]
    pub server: Option<ServerConfig>,

    /// The aiperf installation sweeper uses.
    #[serde(default)]
    pub aiperf: AiperfSettings,

    /// Reference numbers per point, checked in every report (PASS/FAIL).
    #[serde(default)]
    pub targets: Option<TargetsConfig>,

    /// Run every point several times: `repeats: 3`, or `{count, order, confidence,
    /// noise_cv_max}`. Reports then show each figure's mean with its confidence interval, flag
    /// noisy points, and `compare` tests differences for significance.
    #[serde(default)]
    pub repeats: Option<RepeatsConfig>,

    /// Compare the values of one swept key inside this batch (`ab: {by: server.image}`): the
    /// repeats of every point alternate between the values (A B, then B A, ...), so drift of
    /// the machine or the server hits both alike; `sweeper compare BATCH` gives the verdict.
    #[serde(default)]
    pub ab: Option<AbConfig>,

    /// Stop each ladder of a swept load key at the first point that breaks an SLO (or stops
    /// gaining throughput): the larger values of that group are skipped.
    #[serde(default)]
    pub stop_when: Option<StopWhenConfig>,

    /// Find, for every combination of the other parameters, the largest `concurrency` (or
    /// `request_rate`) that meets every SLO: geometric growth, then bisection.
    #[serde(default)]
    pub search: Option<SearchConfig>,

    /// What an hour of the server costs (`usd_per_hour`, or `usd_per_gpu_hour` and `gpus`):
    /// reports then give $ per 1M output, input and total tokens and tokens/s per GPU. Each
    /// field is sweepable (`cost.usd_per_hour: [2.5, 4.1]`) to compare instance types.
    #[serde(default)]
    pub cost: Option<crate::cost::spec::CostConfig>,

    /// Name the per-run result files as tt-inference-server does, so its report code reads them
    /// as its own (`aiperf_benchmark_id_{impl}_{model}_{device}_...json`).
    #[serde(default)]
    pub tt: Option<TtConfig>,

    /// Refuse sweeps with more combinations than this (a typo in a sweep list can mean days of
    /// GPU time). Default 1000; `--max-combinations` on the command line also raises it. At
    /// most 100,000 (and a sweep must fit sweeper's plan memory budget).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_combinations: Option<u64>,
}

fn default_batch_name() -> String {
    "benchmark".into()
}
fn default_output_base_dir() -> PathBuf {
    PathBuf::from("aiperf_results")
}

/// How the inference server is provisioned, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ServerConfig {
    /// A server that is already up; sweeper only checks its health.
    External {
        /// Base URL; default: base_config.url.
        #[serde(default)]
        url: Option<String>,
        /// Path to GET until it answers 2xx. Default: base_config.health_check_endpoint, else
        /// the first of `/v1/models`, `/health`, `/v1/rails/configs` to answer 2xx (a server that
        /// answers none with 2xx, and none with 503, is used with a warning).
        #[serde(default)]
        health_path: Option<String>,
        /// Seconds to wait for the health check to pass.
        #[serde(default = "default_external_timeout")]
        #[schemars(range(min = 0.0))]
        startup_timeout_s: f64,
    },
    /// Any program that serves an OpenAI-compatible API (e.g. `vllm serve`).
    Command {
        /// Program and arguments.
        #[schemars(length(min = 1))]
        argv: Vec<String>,
        /// Extra environment variables.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Working directory.
        #[serde(default)]
        cwd: Option<PathBuf>,
        /// Base URL the server listens on (aiperf's `--url` defaults to it).
        url: String,
        /// Path polled until it answers 2xx. Default: base_config.health_check_endpoint, else the
        /// first of `/v1/models`, `/health`, `/v1/rails/configs` to answer 2xx.
        #[serde(default)]
        health_path: Option<String>,
        /// Seconds to wait for health after start.
        #[serde(default = "default_startup_timeout")]
        #[schemars(range(min = 0.0))]
        startup_timeout_s: f64,
        /// Seconds between SIGTERM and SIGKILL when stopping.
        #[serde(default = "default_stop_grace")]
        #[schemars(range(min = 0.0))]
        stop_grace_s: f64,
    },
    /// llama.cpp's `llama-server`, its command line built from these fields: `-m MODEL --alias
    /// ALIAS --host H --port P --parallel N -c CTX --metrics --no-webui`, then `extra_args`.
    /// Every field can be swept (`server.parallel: [2, 4]`); health: `GET /health` (503 while
    /// the model loads). aiperf's server metrics read its `llamacpp:*` Prometheus metrics.
    LlamaCpp {
        /// The GGUF model file (`-m`).
        model: PathBuf,
        /// The name the model is served as (`--alias`). Default: the file name without `.gguf`.
        #[serde(default)]
        alias: Option<String>,
        /// Request slots (`--parallel`): more concurrent requests than this wait for a slot
        /// (llama.cpp's `requests_deferred`), which is where TTFT's knee is.
        #[serde(default = "default_llama_parallel")]
        #[schemars(range(min = 1, max = 4096))]
        parallel: u32,
        /// Context tokens over all slots (`-c`). Default: 2048 per slot.
        #[serde(default)]
        #[schemars(range(min = 1))]
        ctx_size: Option<u32>,
        /// CPU threads for generation and for prompts (`--threads`, `--threads-batch`).
        /// Default: llama.cpp's.
        #[serde(default)]
        #[schemars(range(min = 1, max = 4096))]
        threads: Option<u32>,
        /// More flags, after the ones above (e.g. `[--n-gpu-layers, "99"]`).
        #[serde(default)]
        extra_args: Vec<String>,
        /// The program. Default: `llama-server` (found on PATH).
        #[serde(default = "default_llama_server")]
        #[schemars(length(min = 1))]
        executable: String,
        /// Where it listens (`http://HOST:PORT`): the host and port become `--host` and `--port`.
        #[serde(default = "default_llama_url")]
        url: String,
        /// Extra environment variables.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Seconds to wait for health after start (loading a large model takes a while).
        #[serde(default = "default_startup_timeout")]
        #[schemars(range(min = 0.0))]
        startup_timeout_s: f64,
        /// Seconds between SIGTERM and SIGKILL when stopping.
        #[serde(default = "default_stop_grace")]
        #[schemars(range(min = 0.0))]
        stop_grace_s: f64,
    },
    /// A container, started with `docker run`.
    Docker {
        /// Image, e.g. `vllm/vllm-openai:v0.14.1`.
        #[schemars(length(min = 1))]
        image: String,
        /// Arguments after the image (the server's own flags).
        #[serde(default)]
        args: Vec<String>,
        /// Published ports, `HOST:CONTAINER`.
        #[serde(default)]
        ports: Vec<String>,
        /// Mounts, `SRC:DST[:ro]`.
        #[serde(default)]
        mounts: Vec<String>,
        /// Environment variables set in the container. Values are written in the config, so
        /// secrets go in `env_passthrough` instead.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Names of environment variables passed from sweeper's environment (`-e NAME`), values
        /// never printed.
        #[serde(default)]
        env_passthrough: Vec<String>,
        /// Extra `docker run` options before the image (e.g. `--gpus all`, `--ipc host`).
        #[serde(default)]
        docker_args: Vec<String>,
        /// The docker CLI.
        #[serde(default = "default_docker")]
        docker_bin: String,
        /// Base URL the server is reachable at from the host.
        url: String,
        /// Path polled until it answers 2xx (default: as for a `command` server).
        #[serde(default)]
        health_path: Option<String>,
        #[serde(default = "default_startup_timeout")]
        #[schemars(range(min = 0.0))]
        startup_timeout_s: f64,
        #[serde(default = "default_stop_grace")]
        #[schemars(range(min = 0.0))]
        stop_grace_s: f64,
    },
    /// Tenstorrent's tt-inference-server:
    /// `python3 run.py --model M --device D --workflow server --docker-server` in `repo_dir`.
    TtInferenceServer {
        /// Checkout of tt-inference-server.
        repo_dir: PathBuf,
        /// Model name as run.py knows it, e.g. `Llama-3.3-70B-Instruct`.
        model: String,
        /// Device, e.g. `n300`, `t3k`, `galaxy`.
        device: String,
        /// Python used to run run.py.
        #[serde(default = "default_python")]
        python: String,
        /// Extra run.py arguments.
        #[serde(default)]
        extra_args: Vec<String>,
        /// Base URL of the vLLM server it starts.
        #[serde(default = "default_tt_url")]
        url: String,
        /// Path polled until it answers 2xx (default: as for a `command` server).
        #[serde(default)]
        health_path: Option<String>,
        /// Model loading on device takes long: default one hour.
        #[serde(default = "default_tt_startup_timeout")]
        #[schemars(range(min = 0.0))]
        startup_timeout_s: f64,
        #[serde(default = "default_stop_grace")]
        #[schemars(range(min = 0.0))]
        stop_grace_s: f64,
    },
    /// The built-in server (`sweeper mock-server`), on a free port of 127.0.0.1.
    Mock(crate::mockserver::MockParams),
    /// A deployment on a Kubernetes cluster, through `kubectl` (the cluster and credentials come
    /// from `KUBECONFIG` or the default kubeconfig, never from this file): `manifest` is
    /// rendered with `vars` (each `vars.<name>` can be swept: `server.vars.kv_backend: [UCX,
    /// LIBFABRIC]`), applied, waited for (`ready`), reached (`reach`), and deleted when its
    /// setting is done (`teardown`). One deployment per server setting.
    Kubernetes(KubernetesServer),
}

pub use super::kubernetes::{
    KubernetesPreset, KubernetesReach, KubernetesReady, KubernetesServer, KubernetesTeardown,
};

fn default_external_timeout() -> f64 {
    30.0
}
fn default_startup_timeout() -> f64 {
    600.0
}
fn default_tt_startup_timeout() -> f64 {
    3600.0
}
fn default_stop_grace() -> f64 {
    10.0
}
fn default_llama_parallel() -> u32 {
    4
}
fn default_llama_server() -> String {
    "llama-server".into()
}
fn default_llama_url() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_docker() -> String {
    "docker".into()
}
fn default_python() -> String {
    "python3".into()
}
fn default_tt_url() -> String {
    "http://127.0.0.1:8000".into()
}

/// Sets the swept server setting `field` in a server section: a plain field (`parallel`), or
/// one entry of a map field (`vars.kv_backend`: the `kv_backend` entry of `vars`).
pub fn set_server_field(server: &mut Map<String, Value>, field: &str, value: Value) {
    if let Some((map, key)) = field.split_once('.').filter(|(m, _)| MAP_FIELDS.contains(m)) {
        let entry = server.entry(map.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(m) = entry.as_object_mut() {
            m.insert(key.to_owned(), value);
        }
        return;
    }
    server.insert(field.to_owned(), value);
}

/// Server fields that are maps whose entries are swept one by one (`server.vars.<name>`).
pub const MAP_FIELDS: [&str; 1] = ["vars"];

impl ServerConfig {
    /// The `kind` as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerConfig::External { .. } => "external",
            ServerConfig::Command { .. } => "command",
            ServerConfig::LlamaCpp { .. } => "llama-cpp",
            ServerConfig::Docker { .. } => "docker",
            ServerConfig::TtInferenceServer { .. } => "tt-inference-server",
            ServerConfig::Mock(_) => "mock",
            ServerConfig::Kubernetes(_) => "kubernetes",
        }
    }
}

/// The aiperf that sweeper runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiperfSettings {
    /// aiperf version installed in the managed venv.
    #[serde(default = "default_aiperf_version")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$"))]
    pub version: String,
    /// Python interpreter used to create the venv (3.11 to 3.13). Default: `python3`.
    #[serde(default)]
    pub python: Option<String>,
    /// Where the managed venv lives. Default: `$SWEEPER_VENV_DIR`, else
    /// `<user cache dir>/sweeper/venvs/aiperf-<version>-py<X.Y>`.
    #[serde(default)]
    pub venv_dir: Option<PathBuf>,
    /// Use this aiperf executable instead of a managed venv.
    #[serde(default)]
    pub executable: Option<PathBuf>,
    /// Seconds one aiperf run may take before it is stopped and recorded as timed out.
    /// Default: benchmark_duration + grace + 600 when a duration is set, else 3600.
    #[serde(default)]
    #[schemars(range(min = 1.0))]
    pub run_timeout_s: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL when aiperf is stopped (timeout, Ctrl-C, a dead
    /// server): time for it to write what it has.
    #[serde(default = "default_aiperf_stop_grace")]
    #[schemars(range(min = 0.0))]
    pub stop_grace_s: f64,
    /// Extra environment variables for aiperf (e.g. `TIKTOKEN_CACHE_DIR`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_aiperf_version() -> String {
    "0.13.0".into()
}
fn default_aiperf_stop_grace() -> f64 {
    10.0
}

impl Default for AiperfSettings {
    fn default() -> Self {
        Self {
            version: default_aiperf_version(),
            python: None,
            venv_dir: None,
            executable: None,
            run_timeout_s: None,
            stop_grace_s: default_aiperf_stop_grace(),
            env: BTreeMap::new(),
        }
    }
}

/// Reference numbers, as in tt-inference-server's `model_performance_reference.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    /// Default relative tolerance (0.05 = 5%).
    #[serde(default = "default_tolerance")]
    #[schemars(range(min = 0.0))]
    pub tolerance: f64,
    /// A tt-inference-server `model_performance_reference.json` (relative to the config file).
    #[serde(default)]
    pub reference_file: Option<PathBuf>,
    /// Model key in the reference file (e.g. `Llama-3.3-70B`).
    #[serde(default)]
    pub model: Option<String>,
    /// Device key in the reference file (e.g. `t3k`).
    #[serde(default)]
    pub device: Option<String>,
    /// Targets written in the config.
    #[serde(default)]
    pub points: Vec<TargetPoint>,
}

/// `ab`: an A/B comparison inside one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbConfig {
    /// The `sweeps` key whose values are compared (`server.image`, `server.url`,
    /// `extra_inputs`, ...); its first value is A, the baseline.
    #[schemars(length(min = 1))]
    pub by: String,
    /// `restart`: one server at a time (the values' servers share a GPU), every switch of
    /// value restarts the server, so each repeat runs all of A's points, then all of B's.
    /// `together`: every value's server up at once (external servers, mock servers, servers
    /// on ports of their own): the values alternate point by point. Default: `together` when
    /// every server is external or a mock, else `restart`.
    #[serde(default)]
    pub servers: Option<crate::records::AbServers>,
}

/// `repeats: 3` or the full form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RepeatsConfig {
    /// How many times every point runs (interleaved, 95% confidence, noisy above 5% CV).
    Count(#[schemars(range(min = 1, max = 100))] u32),
    Full(RepeatsSpec),
}

/// Repeats of every point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatsSpec {
    /// How many times every point runs (1: once, as without `repeats`).
    #[schemars(range(min = 1, max = 100))]
    pub count: u32,
    /// `interleaved` (default): repeat 1 of every point, then repeat 2 of every point, ..., one
    /// aiperf run each in `<point dir>/repeat_<k>/`, so slow drift spreads over all points.
    /// `back_to_back`: aiperf's own `--num-profile-runs N` (one aiperf call per point).
    #[serde(default = "default_repeat_order")]
    pub order: crate::records::RepeatOrder,
    /// Confidence level of the intervals in reports and of `compare`'s test (default 0.95).
    #[serde(default = "default_confidence")]
    #[schemars(range(min = 0.5, max = 0.999))]
    pub confidence: f64,
    /// A point is flagged noisy when the coefficient of variation of a key metric across its
    /// repeats exceeds this (default 0.05 = 5%).
    #[serde(default = "default_noise_cv_max")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub noise_cv_max: f64,
}

fn default_repeat_order() -> crate::records::RepeatOrder {
    crate::records::RepeatOrder::Interleaved
}
fn default_confidence() -> f64 {
    crate::stats::confidence::DEFAULT_CONFIDENCE
}
pub use crate::stats::repeats::DEFAULT_NOISE_CV_MAX;
fn default_noise_cv_max() -> f64 {
    DEFAULT_NOISE_CV_MAX
}

impl RepeatsConfig {
    /// The repeats as recorded in plan.json.
    pub fn resolve(&self) -> crate::records::Repeats {
        match self {
            RepeatsConfig::Count(n) => crate::records::Repeats {
                count: *n,
                order: default_repeat_order(),
                confidence: default_confidence(),
                noise_cv_max: DEFAULT_NOISE_CV_MAX,
            },
            RepeatsConfig::Full(s) => crate::records::Repeats {
                count: s.count,
                order: s.order,
                confidence: s.confidence,
                noise_cv_max: s.noise_cv_max,
            },
        }
    }
}

fn default_tolerance() -> f64 {
    crate::tt::reference::DEFAULT_TOLERANCE
}

/// Targets for the combinations that match `match`: `match`, `tolerance`, and any target key of
/// the metric table (`ttft_ms`, `tpot_ms`, `itl_ms`, `e2el_ms` lower is better; `tput_user`,
/// `tput`, `req_tput`, `tput_decode`, `tput_prefill` higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPoint {
    /// Config keys and values a combination must have (`{isl: 128, osl: 128, concurrency: 1}`);
    /// empty matches every combination.
    pub match_: Map<String, Value>,
    /// (target key, value), in the order written.
    pub targets: Vec<(String, f64)>,
    /// Relative tolerance for this point; default: `targets.tolerance`.
    pub tolerance: Option<f64>,
}

impl TargetPoint {
    /// The metrics this point sets, as (target key, value).
    pub fn metrics(&self) -> &[(String, f64)] {
        &self.targets
    }
}

impl Serialize for TargetPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("match", &self.match_)?;
        for (k, v) in &self.targets {
            m.serialize_entry(k, v)?;
        }
        if let Some(t) = self.tolerance {
            m.serialize_entry("tolerance", &t)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for TargetPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = Map::<String, Value>::deserialize(d)?;
        let keys = crate::model::metrics::target_keys();
        let mut p = TargetPoint { match_: Map::new(), targets: Vec::new(), tolerance: None };
        for (k, v) in map {
            match k.as_str() {
                "match" => {
                    p.match_ = match v {
                        Value::Object(m) => m,
                        Value::Null => Map::new(),
                        _ => return Err(D::Error::custom("`match` must be a mapping")),
                    }
                }
                "tolerance" => {
                    p.tolerance = match v {
                        Value::Null => None,
                        v => Some(
                            v.as_f64()
                                .ok_or_else(|| D::Error::custom("`tolerance` must be a number"))?,
                        ),
                    }
                }
                k if keys.contains(&k) => match v {
                    Value::Null => {}
                    v => {
                        let x = v
                            .as_f64()
                            .ok_or_else(|| D::Error::custom(format!("`{k}` must be a number")))?;
                        p.targets.push((k.to_owned(), x));
                    }
                },
                other => return Err(D::Error::custom(format!("unknown target key `{other}`"))),
            }
        }
        Ok(p)
    }
}
