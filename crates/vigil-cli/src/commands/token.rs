//! `vigil token create --scope ingest|read|write|admin [--name N]`: an API token, printed once
//! on stdout (the store keeps only its hash).

use clap::{Args, Subcommand};
use vigil_server::api::validate_scopes;
use vigil_store::Timestamp;

use super::target::{Target, TargetArgs, report_client_error};
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// What it may do (repeatable, or comma-separated): ingest, read, write, admin.
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// A name to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

pub fn run(args: TokenArgs) -> anyhow::Result<Outcome> {
    let TokenCommand::Create { scopes, name } = args.command;
    if let Err(message) = validate_scopes(&scopes) {
        eprintln!("vigil: {}", escape(&message));
        return Ok(Outcome::InputError);
    }
    let secret = match args.target.open() {
        Err(message) => {
            eprintln!("vigil: {}", escape(&message));
            return Ok(Outcome::InputError);
        }
        Ok(Target::Local { store, .. }) => {
            store.create_token(&name, &scopes, Timestamp::now())?.secret
        }
        Ok(Target::Remote(client)) => match client.create_token(&name, &scopes) {
            Ok(v) => v
                .get("secret")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Err(e) => return report_client_error(&e),
        },
    };
    eprintln!(
        "vigil: token {:?} with scopes {} (shown once; only its hash is stored):",
        escape(&name),
        scopes.join(", ")
    );
    println!("{secret}");
    Ok(Outcome::Clean)
}
