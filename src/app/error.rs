//! Errors and exit codes, in one place: the error of every stage, how it is shown (`error: <what
//! failed, where>` then `  hint: <what to try>`), and the exit code each kind gives.

use crate::config::ConfigError;
use crate::report::ReportError;
use crate::report::compare::CompareError;
use crate::results::ResultsError;
use crate::run::RunError;
use crate::run::venv::SetupError;
use crate::scaleout::JobError;
use crate::scaleout::merge::MergeError;
use crate::tt::export::ExportError;
use crate::tt::reference::ReferenceError;

pub use crate::util::exit::{EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};

/// Anything that stops a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every problem of a config file (printed in its own multi-problem layout).
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Two batches that cannot be compared, or a comparison not rendered.
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// `sweeper mock-server` could not start.
    #[error(transparent)]
    MockServer(#[from] crate::mockserver::MockServerError),
    /// `export tt`.
    #[error(transparent)]
    TtExport(#[from] ExportError),
    /// A bad `--shard` or `--batch-id`.
    #[error(transparent)]
    Shard(#[from] crate::scaleout::shard::ShardError),
    /// `export slurm`, `export k8s`.
    #[error(transparent)]
    Job(#[from] JobError),
    /// The command ran, but its outcome is a failure (a target check, the reports or records of
    /// a batch): exit 1.
    #[error("{message}")]
    Failed { message: String, hint: String },
    /// A command line that cannot work.
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
}

impl Error {
    /// A usage error with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }

    /// The exit code this error gives.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Run(e) => e.exit_code(),
            Error::Failed { .. } => EXIT_FAILED,
            Error::Config(_)
            | Error::Setup(_)
            | Error::Results(_)
            | Error::Report(_)
            | Error::Compare(_)
            | Error::Reference(_)
            | Error::Merge(_)
            | Error::MockServer(_)
            | Error::Shard(_)
            | Error::TtExport(_)
            | Error::Job(_)
            | Error::Usage { .. } => EXIT_CONFIG,
        }
    }

    /// What to try, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(_) => None, // every diagnostic carries its own hint
            Error::Setup(e) => Some(e.hint.clone()),
            Error::Run(e) => e.hint(),
            Error::Results(e) => e.hint(),
            Error::Report(e) => e.hint(),
            Error::Compare(e) => e.hint(),
            Error::Reference(e) => Some(e.hint()),
            Error::Merge(e) => Some(e.hint()),
            Error::MockServer(e) => e.hint(),
            Error::Shard(_) => Some("e.g. `--shard $SLURM_ARRAY_TASK_ID/4 --batch-id $SLURM_ARRAY_JOB_ID`; `sweeper export slurm` writes the job".into()),
            Error::TtExport(e) => e.hint(),
            Error::Job(e) => Some(e.hint()),
            Error::Usage { hint, .. } => hint.clone(),
            Error::Failed { hint, .. } => Some(hint.clone()),
        }
    }

    /// The text printed for it: `error: ...` and, when there is one, `  hint: ...`.
    pub fn render(&self) -> String {
        let mut s = format!("error: {self}");
        if !s.ends_with('\n') {
            s.push('\n');
        }
        if let Some(h) = self.hint() {
            s.push_str(&format!("  hint: {h}\n"));
        }
        s
    }
}

/// Prints an error: the one place errors reach the terminal.
pub fn print(e: &Error) {
    crate::util::term::err_text(&e.render());
}
