//! The supervisor of one child of sweeper (a server or an aiperf run), as a small program of
//! its own: `sweeper-supervise --parent PID --grace-s G [--on-exit CMD] -- PROGRAM ARGS...`.
//! It is what `sweeper __supervise` does (see `sweeper::run::supervise`); sweeper starts this
//! one when it lies next to sweeper's executable, because it starts with ~1 ms less CPU.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    std::process::ExitCode::from(sweeper::run::supervise::main(&args[1..]))
}
