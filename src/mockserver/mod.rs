//! The built-in OpenAI-compatible inference server (`sweeper mock-server`, server kind `mock`).
//! STUB: filled in by the mock-server work (issue 3).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Parameters of the mock server's serving model and fault injection. The same struct is the
/// `server: {kind: mock, ...}` section of a config and the flags of `sweeper mock-server`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockParams {
    /// Most sequences decoded at once; the rest wait in a queue.
    #[arg(long, default_value_t = 64)]
    #[serde(default = "default_max_num_seqs")]
    pub max_num_seqs: u32,
}

fn default_max_num_seqs() -> u32 {
    64
}

impl Default for MockParams {
    fn default() -> Self {
        Self { max_num_seqs: default_max_num_seqs() }
    }
}

/// Flags of `sweeper mock-server`.
#[derive(Debug, Clone, clap::Args)]
pub struct MockServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    #[command(flatten)]
    pub params: MockParams,
}

/// Runs the server until SIGINT/SIGTERM; returns the process exit code.
pub fn main(_args: MockServerArgs) -> u8 {
    eprintln!("error: the mock server is not built yet");
    2
}
