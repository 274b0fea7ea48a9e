//! Entry point: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sweeper::cli::Cli::parse();
    sweeper::app::main(cli)
}
