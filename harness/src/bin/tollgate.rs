//! `tollgate`: run scenarios (`tollgate run`), boot the guide's topology (`tollgate up`) or run
//! one node (`tollgate node`, the same run as the `tollgate-node` binary's).
//! See [`tollgate_harness::cli`].

use clap::Parser;
use std::process::ExitCode;

/// mimalloc, as `tollgate-node`: `tollgate up` and `tollgate bench` run the nodes in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tollgate_harness::cli::Cli::parse();
    // A run's report is its output; node logs would bury it.
    let default_level = match cli.command {
        tollgate_harness::cli::Command::Run { .. } | tollgate_harness::cli::Command::Conform(_) => {
            "warn"
        }
        _ => "info",
    };
    let runtime = match tollgate_node::run::start(default_level) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::from(tollgate_harness::cli::EXIT_START);
        }
    };
    runtime.block_on(tollgate_harness::cli::run(cli))
}
