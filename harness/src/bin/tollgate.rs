//! `tollgate`: run scenarios (`tollgate run`), boot the guide's topology (`tollgate up`) or run
//! one node (`tollgate node`, the same run as the `tollgate-node` binary's).
//! See [`tollgate_harness::cli`].

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = tollgate_harness::cli::Cli::parse();
    // A run's report is its output; node logs would bury it.
    let default_level = match cli.command {
        tollgate_harness::cli::Command::Run { .. } => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tollgate: cannot start the async runtime: {error}");
            return ExitCode::from(tollgate_harness::cli::EXIT_START);
        }
    };
    runtime.block_on(tollgate_harness::cli::run(cli))
}
