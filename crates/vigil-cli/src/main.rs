//! The `vigil` binary: parses arguments, wires the library crates together, maps outcomes to
//! exit codes. No domain logic lives here.
//!
//! Exit codes (PRODUCT.md §2): 0 clean, 1 findings at or above `--fail-on`, 2 usage or input
//! error, 3 internal error.

mod commands;
mod progress;

use vigil_core::terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runtime supply-chain security: what is installed, what is loaded, what is malicious.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, propagate_version = true)]
struct Cli {
    /// Print less (errors only).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inventory paths and match them against threat intelligence (one-shot, offline).
    Scan(commands::scan::ScanArgs),
    /// Threat intelligence: import, sync, status, show.
    Intel(commands::intel::IntelArgs),
    /// Server and local agent in one process, on the embedded store: the main job.
    Up(commands::serve::ServeArgs),
    /// The server alone (API, detection, workflows).
    Serve(commands::serve::ServeArgs),
    /// The agent alone: inventory this host and report to a server.
    Agent(commands::agent::AgentArgs),
    /// Run a query on a data directory or a server.
    Query(commands::query::QueryArgs),
    /// Finding lifecycle: list, ack, resolve, mute.
    Findings(commands::findings::FindingsArgs),
    /// API tokens.
    Token(commands::token::TokenArgs),
    /// Workflow runs: list deliveries and dead letters, retry a dead run.
    Workflows(commands::workflows::WorkflowsArgs),
    /// Version orderings of every ecosystem.
    Version {
        #[command(subcommand)]
        command: commands::version::VersionCommand,
    },
}

/// How a command ended, mapped onto the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Clean,
    /// Exit 1: findings at or above the failure threshold.
    Findings,
    /// Exit 2: some input was invalid; the messages on stderr say where.
    InputError,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Scan(args) => commands::scan::run(args, cli.quiet),
        Command::Intel(args) => commands::intel::run(args),
        Command::Up(args) => commands::serve::run(args, true, cli.quiet),
        Command::Serve(args) => commands::serve::run(args, false, cli.quiet),
        Command::Agent(args) => commands::agent::run(args, cli.quiet),
        Command::Query(args) => commands::query::run(args),
        Command::Findings(args) => commands::findings::run(args),
        Command::Token(args) => commands::token::run(args),
        Command::Workflows(args) => commands::workflows::run(args),
        Command::Version { command } => commands::version::run(command),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::InputError) => ExitCode::from(2),
        Err(err) => {
            eprintln!("vigil: error: {}", terminal::escape(&format!("{err:#}")));
            ExitCode::from(3)
        }
    }
}
