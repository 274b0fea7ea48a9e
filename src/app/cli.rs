//! The command line (clap derive). Pure data: `app` turns it into stage inputs; no other module
//! sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::mockserver::MockParams;

/// Run an LLM inference benchmark sweep with aiperf, declared once in YAML.
///
/// `sweeper --config-file sweep.yaml` validates the config, expands its sweeps, provisions the
/// inference server, runs `aiperf profile` once per combination and writes reports.
#[derive(Debug, Parser)]
#[command(name = "sweeper", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of the main job (also `sweeper run`).
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// The batch config (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Validate and print every combination and its exact aiperf command; run nothing, write
    /// nothing, contact nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Show everything: merged configs, commands, aiperf's live output, server logs.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Continue an earlier batch in this directory: skip the combinations that succeeded.
    #[arg(long, value_name = "BATCH_DIR")]
    pub resume: Option<PathBuf>,

    /// Allow a sweep with more combinations than the cap (default 1000, or `max_combinations`).
    #[arg(long, value_name = "N")]
    pub max_combinations: Option<u64>,

    /// Exit with code 1 when any target check FAILs.
    #[arg(long)]
    pub fail_on_target: bool,

    /// Run only shard K of N of the sweep (K from 0, as `SLURM_ARRAY_TASK_ID` and
    /// `JOB_COMPLETION_INDEX` count), in `<output_base_dir>/<batch_name>/<batch id>/shards/<K>/`.
    /// `sweeper merge` joins the shards.
    /// (Checked by the app, which echoes a bad value escaped and cut short.)
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// The id shared by every shard of one batch (e.g. `$SLURM_ARRAY_JOB_ID`, or a timestamp
    /// fixed when the job is written): the name of the batch directory.
    #[arg(long, value_name = "ID", requires = "shard")]
    pub batch_id: Option<String>,

    /// After the sweep, compare it with this earlier batch (`compare.md`, `compare.csv` in the
    /// new batch directory): one command for a CI gate.
    #[arg(long, value_name = "BATCH_DIR")]
    pub baseline: Option<PathBuf>,

    #[command(flatten)]
    pub gate: GateArgs,
}

/// How `compare` judges changes (also for `--baseline`).
#[derive(Debug, Args, Clone, Default)]
pub struct GateArgs {
    /// Exit with code 1 when a regression is found: a change in the bad direction beyond
    /// --threshold that Welch's t-test on the repeats finds significant.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Smallest change (in %) that can be a regression or an improvement (default 5).
    #[arg(long, value_name = "PCT")]
    pub threshold: Option<f64>,
    /// Confidence level of the test (default: the batches' `repeats.confidence`, else 0.95).
    #[arg(long, value_name = "LEVEL")]
    pub confidence: Option<f64>,
}

/// A tt-inference-server reference file to check a batch against (`sweeper report`).
#[derive(Debug, Args, Clone, Default)]
pub struct TargetsArgs {
    /// A tt-inference-server `model_performance_reference.json` to check against.
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,
    /// Its model key (needed when the file holds more than one model), e.g. `Llama-3.3-70B`.
    #[arg(long, value_name = "MODEL", requires = "targets_file")]
    pub model: Option<String>,
    /// Its device key (needed when the model has more than one device), e.g. `t3k`.
    #[arg(long, value_name = "DEVICE", requires = "targets_file")]
    pub device: Option<String>,
    /// Relative tolerance of targets without their own (default 0.05).
    #[arg(long, value_name = "FRACTION", requires = "targets_file")]
    pub tolerance: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sweep (the same as giving `--config-file` without a subcommand).
    Run(RunArgs),
    /// Check a config: schema, then semantics. Prints every problem; exit 2 if any.
    Validate {
        /// The batch config (YAML).
        file: PathBuf,
        /// Allow more combinations than the cap.
        #[arg(long, value_name = "N")]
        max_combinations: Option<u64>,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Install what runs need: the managed aiperf venv (and the offline tokenizer). Runs do this
    /// on first use; this is for provisioning a machine ahead of time.
    Setup {
        /// Use this config's `aiperf` section (version, python, venv_dir).
        #[arg(long, short = 'c', value_name = "FILE")]
        config_file: Option<PathBuf>,
    },
    /// Run the built-in OpenAI-compatible inference server (for rehearsals and tests).
    MockServer(MockServerArgs),
    /// Render the reports of a batch directory (after or during a sweep). Also reads result
    /// folders sweeper did not write: the NeMo runner's batches and plain aiperf artifact dirs.
    Report {
        /// A batch directory (`<output_base_dir>/<batch_name>/<timestamp>`).
        batch_dir: PathBuf,
        /// Exit with code 1 when any target check FAILs.
        #[arg(long)]
        fail_on_target: bool,
        /// Write the reports here instead of into the batch directory (for one that is not
        /// writable, e.g. someone else's results).
        #[arg(long, short = 'o', value_name = "DIR")]
        output: Option<PathBuf>,
        #[command(flatten)]
        targets: TargetsArgs,
    },
    /// Show how a config's sweep splits into shards (`--shards N`).
    Plan {
        /// The batch config (YAML).
        file: PathBuf,
        /// Number of shards (machines).
        #[arg(long, value_name = "N")]
        shards: usize,
        /// Allow more combinations than the cap.
        #[arg(long, value_name = "N")]
        max_combinations: Option<u64>,
    },
    /// Merge the shards of a batch (`<batch id>/shards/<K>/`) into one batch with one manifest
    /// and one set of reports. Refuses (exit 2) until every shard is done, unless --partial.
    Merge {
        /// The batch directory the shards share (`<output_base_dir>/<batch_name>/<batch id>`),
        /// or the shard directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Merge what is there: missing or unfinished shards' combinations are listed as not
        /// run, and the exit code is 1.
        #[arg(long)]
        partial: bool,
    },
    /// Write a batch's results, or a job that runs a sweep, in another tool's format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Compare two batches: match combinations by parameters, show each key metric's change.
    /// With one batch, compare the values of one of its swept keys (an A/B batch: `ab:` in its
    /// config, or `--by KEY`): the first value is A.
    Compare {
        /// The baseline batch directory (or the A/B batch).
        batch_a: PathBuf,
        /// The batch directory to compare with it (none: compare inside BATCH_A by a key).
        batch_b: Option<PathBuf>,
        /// Compare inside one batch by the values of this swept key (default: its `ab.by`).
        #[arg(long, value_name = "KEY")]
        by: Option<String>,
        /// Also write `compare.md` and `compare.csv` into this directory.
        #[arg(long, short = 'o', value_name = "DIR")]
        output: Option<PathBuf>,
        #[command(flatten)]
        gate: GateArgs,
    },
}

/// What `sweeper export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// An sbatch script that runs the sweep as a Slurm array of N shards, then merges them.
    /// Submit it with `bash FILE` (the array and a dependent merge job) or `sbatch FILE` (then
    /// merge by hand). API keys: export them before submitting (`--export=ALL` passes them).
    Slurm(SlurmArgs),
    /// A ConfigMap (the config) and an Indexed Job of N shards, results on a
    /// PersistentVolumeClaim, API keys from a Secret.
    K8s(K8sArgs),
    /// Every run's tt-inference-server result file (`aiperf_benchmark_{model_id}_...json`) in
    /// one flat folder, as tt's report workflow reads them from `workflow_logs/benchmarks_output/`.
    /// Refuses (exit 2, nothing written) when points would collide in tt; `--split-by` writes
    /// one folder per value of the parameter that tells them apart.
    Tt(TtArgs),
}

/// Flags of `sweeper export slurm`.
#[derive(Debug, Clone, Args)]
pub struct SlurmArgs {
    /// The batch config (YAML).
    pub config: PathBuf,
    #[arg(long, value_name = "N")]
    pub shards: usize,
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    #[arg(long, value_name = "G")]
    pub gpus_per_task: Option<u32>,
    /// Time limit per task (`HH:MM:SS`, `D-HH:MM:SS` or minutes).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// sweeper as the nodes run it (default: this executable's path, on shared storage).
    #[arg(long, value_name = "PATH")]
    pub sweeper: Option<PathBuf>,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Flags of `sweeper export k8s`.
#[derive(Debug, Clone, Args)]
pub struct K8sArgs {
    /// The batch config (YAML).
    pub config: PathBuf,
    #[arg(long, value_name = "N")]
    pub shards: usize,
    /// The image (see `Dockerfile`: sweeper and its pinned aiperf).
    #[arg(long, value_name = "IMG")]
    pub image: String,
    /// `nvidia.com/gpu` per shard.
    #[arg(long, value_name = "G")]
    pub gpus: Option<u32>,
    /// The PersistentVolumeClaim results go to (mounted at /results).
    #[arg(long, value_name = "NAME", default_value = "sweeper-results")]
    pub pvc: String,
    /// Also create that claim, of this size (e.g. `20Gi`).
    #[arg(long, value_name = "SIZE")]
    pub pvc_size: Option<String>,
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// The Secret holding the API keys (one key per `api_key_env_var`).
    #[arg(long, value_name = "NAME", default_value = "sweeper-api-keys")]
    pub secret: String,
    /// The batch id (default: the time of export, `YYYYMMDD_HHMMSS`).
    #[arg(long, value_name = "ID")]
    pub batch_id: Option<String>,
    /// The merge Job waits at most this long (seconds) for every shard to finish, then merges
    /// what is there (`sweeper merge --partial`) and fails, listing the missing shards.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub merge_deadline_s: u64,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Flags of `sweeper export tt`.
#[derive(Debug, Clone, Args)]
pub struct TtArgs {
    /// A batch directory (`<output_base_dir>/<batch_name>/<timestamp>`).
    pub batch_dir: PathBuf,
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// tt's implementation name (`tt-transformers`, ...); with --model and --device, names
    /// the files instead of the config's `tt` section.
    #[arg(long = "impl", value_name = "IMPL", requires_all = ["model", "device"])]
    pub impl_name: Option<String>,
    /// tt's model name: the Hugging Face repo's basename (`Llama-3.3-70B-Instruct`).
    #[arg(long, value_name = "MODEL", requires_all = ["impl_name", "device"])]
    pub model: Option<String>,
    /// tt's device (`n150`, `n300`, `t3k`, `galaxy`, ...).
    #[arg(long, value_name = "DEVICE", requires_all = ["impl_name", "model"])]
    pub device: Option<String>,
    /// One sub-folder per value of this swept parameter (`<DIR>/<key>=<value>/`); repeat
    /// for several.
    #[arg(long, value_name = "KEY")]
    pub split_by: Vec<String>,
}

/// Flags of `sweeper mock-server`: the address, and the server's parameters (the same names as
/// the keys of `server: {kind: mock}`; see [`MockParams`] for what each does).
#[derive(Debug, Clone, Args)]
pub struct MockServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Model name listed by `GET /v1/models`. Requests may name any model; responses echo it.
    #[arg(long, default_value = "mock-model")]
    pub model: String,
    /// Most sequences decoded at once; the rest wait in a FIFO queue.
    #[arg(long, default_value_t = 64)]
    pub max_num_seqs: u32,
    /// Prefill time in ms that every request pays before its first token.
    #[arg(long, default_value_t = 10.0)]
    pub prefill_base_ms: f64,
    /// Prefill time in ms per estimated prompt token (estimate: characters / 4, rounded up).
    #[arg(long, default_value_t = 0.02)]
    pub prefill_per_token_ms: f64,
    /// Fixed part of the time in ms between two tokens of one sequence.
    #[arg(long, default_value_t = 5.0)]
    pub decode_base_ms: f64,
    /// Time in ms added to every decode step per running sequence.
    #[arg(long, default_value_t = 0.05)]
    pub decode_per_seq_ms: f64,
    /// Tokens the KV cache holds (a sequence holds its prompt and emitted tokens; when full, the
    /// newest sequences are preempted). Requests that cannot fit alone get HTTP 400.
    #[arg(long, default_value_t = crate::mockserver::DEFAULT_KV_CACHE_TOKENS)]
    pub kv_cache_tokens: u64,
    /// Output tokens when a request sets neither `max_tokens` nor `max_completion_tokens`.
    #[arg(long, default_value_t = 16)]
    pub default_max_tokens: u32,
    /// Largest request body accepted, in bytes; larger ones get HTTP 413.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: u64,
    /// Ms a client has to finish sending a request's headers, counted from their first byte;
    /// slower clients are disconnected. 0 = no limit.
    #[arg(long, default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Ms a connection may stay open with no request in flight before it is closed (a
    /// streaming response is in flight however long it runs). 0 = never.
    #[arg(long, default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Fault: close the connection this many ms after each response, whatever is in flight by
    /// then (as llama.cpp's server does after streamed responses). 0 = off.
    #[arg(long, default_value_t = 0)]
    pub close_after_response_ms: u64,
    /// Fault: ms after start during which `/health` and inference answer HTTP 503.
    #[arg(long, default_value_t = 0)]
    pub startup_delay_ms: u64,
    /// Fault: fraction (0 to 1) of valid inference requests answered HTTP 500, chosen by `seed`.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fault: fraction (0 to 1) of valid inference requests that stall after
    /// `stall_after_tokens` tokens (the connection stays open).
    #[arg(long, default_value_t = 0.0)]
    pub stall_rate: f64,
    /// Fault: tokens a stalling request sends before it stalls.
    #[arg(long, default_value_t = 1)]
    pub stall_after_tokens: u32,
    /// Fault: exit (status 1) once this many inference requests have been answered; 0 = never.
    #[arg(long, default_value_t = 0)]
    pub exit_after_requests: u64,
    /// Fault: require `Authorization: Bearer <key>` on `/v1/` paths, where <key> is read at
    /// start-up from the environment variable of this NAME (the key itself is never a flag).
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,
    /// Seed of the `error_rate` and `stall_rate` decisions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fault: ignore the request's max_tokens and always answer `default_max_tokens` tokens.
    #[arg(long)]
    pub ignore_max_tokens: bool,
}

impl From<MockServerArgs> for MockParams {
    fn from(a: MockServerArgs) -> Self {
        MockParams {
            model: a.model,
            max_num_seqs: a.max_num_seqs,
            prefill_base_ms: a.prefill_base_ms,
            prefill_per_token_ms: a.prefill_per_token_ms,
            decode_base_ms: a.decode_base_ms,
            decode_per_seq_ms: a.decode_per_seq_ms,
            kv_cache_tokens: a.kv_cache_tokens,
            default_max_tokens: a.default_max_tokens,
            max_body_bytes: a.max_body_bytes,
            header_read_timeout_ms: a.header_read_timeout_ms,
            idle_timeout_ms: a.idle_timeout_ms,
            close_after_response_ms: a.close_after_response_ms,
            startup_delay_ms: a.startup_delay_ms,
            error_rate: a.error_rate,
            stall_rate: a.stall_rate,
            stall_after_tokens: a.stall_after_tokens,
            exit_after_requests: a.exit_after_requests,
            api_key_env: a.api_key_env,
            seed: a.seed,
            ignore_max_tokens: a.ignore_max_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags' defaults are the parameters' defaults, and every parameter has a flag (the
    /// plan passes `--<key>` for every setting that differs from its default).
    #[test]
    fn mock_server_flags_map_onto_every_parameter() {
        let cli = Cli::parse_from(["sweeper", "mock-server"]);
        let Some(Command::MockServer(args)) = cli.command else { panic!("not mock-server") };
        assert_eq!(MockParams::from(args), MockParams::default());
        let keys = serde_json::to_value(MockParams::default()).expect("serializes");
        let cmd = <Cli as clap::CommandFactory>::command();
        let sub = cmd.find_subcommand("mock-server").expect("mock-server");
        for key in keys.as_object().expect("object").keys() {
            let flag = key.replace('_', "-");
            assert!(
                sub.get_arguments().any(|a| a.get_long() == Some(flag.as_str())),
                "no --{flag} flag for `{key}`"
            );
        }
    }
}
