//! `tollgate-node`: one Tollgate node, or a load balancer, on its own sockets. The container
//! image's only program, with none of the harness (no Docker client, runner or progress bars).
//!
//! ```text
//! tollgate-node node --config deployment.toml [--seed N] [--address IP] [--name N] [--home DIR]
//!                    [--virtual-clock UNIX_MILLIS] [--host HOST=IP]... [--route HOST:PORT=IP:PORT]...
//! tollgate-node load-balancer --name N --http PORT --https PORT
//!                    --gateway NAME=HTTP_URL,HTTPS_URL,MANAGEMENT_URL... [--address IP] [--host ...] [--route ...]
//! ```
//!
//! Exit codes: 0 after SIGINT or SIGTERM; 2 when the configuration is wrong (every diagnostic
//! printed as `file:line:col: key: message`); 1 when it cannot start. See
//! [`tollgate_node::run`].

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tollgate_node::run::{self, LoadBalancerArgs, NodeArgs};

const PROGRAM: &str = "tollgate-node";

/// mimalloc: a proxied request makes ~30 small allocations; its fast path costs about a third of
/// glibc's (README, "Dependencies, and why").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate-node",
    version,
    about = "One Tollgate node (any server_role) or a load balancer, on its own sockets."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Node(NodeArgs),
    LoadBalancer(LoadBalancerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match run::start("info") {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{PROGRAM}: {error}");
            return ExitCode::from(run::EXIT_START);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Node(args) => run::node(args).await,
            Command::LoadBalancer(args) => run::load_balancer(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.report(PROGRAM);
            ExitCode::from(error.exit_code())
        }
    }
}
