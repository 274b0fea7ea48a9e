//! The only module that sequences the stages: CLI -> config -> plan -> run -> results -> report.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::{EXIT_CONFIG, EXIT_OK};

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Some(Command::MockServer(args)) => crate::mockserver::main(args),
        Some(Command::Report { batch_dir, fail_on_target, targets_file }) => report_result(
            crate::report::report_command(&batch_dir, fail_on_target, targets_file.as_deref()),
        ),
        Some(Command::Compare { batch_a, batch_b, output }) => {
            report_result(crate::report::compare_command(&batch_a, &batch_b, output.as_deref()))
        }
        _ => EXIT_OK,
    };
    ExitCode::from(code)
}

fn report_result(r: Result<u8, String>) -> u8 {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}
