//! Entry point: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // The supervisor of a child process (internal; see `run::supervise`): before clap, so its
    // arguments are passed through untouched.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(sweeper::run::supervise::SUBCOMMAND) {
        return std::process::ExitCode::from(sweeper::run::supervise::main(&args[2..]));
    }
    // Every command but a few checks a config: its schema starts compiling now.
    if !matches!(
        args.get(1).map(String::as_str),
        Some("mock-server" | "report" | "compare" | "merge" | "export" | "schema")
    ) {
        sweeper::config::prepare_schema();
    }
    let cli = sweeper::app::cli::Cli::parse();
    sweeper::app::main(cli)
}
