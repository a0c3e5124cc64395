//! `tessera token`: issues, lists and revokes the farm's API tokens, writing the coordinator's
//! store directly (so the first admin token needs no server); run it on the coordinator's host.

use clap::{Args, Subcommand};
use tessera_protocol::auth::{NewToken, Role};

use crate::farm_runtime::StoreArgs;
use crate::stderr::errln;
use crate::stdout::outln;
use crate::terminal::clean;

#[derive(Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issues a token and prints it (once: only its hash is kept).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// admin (the operator), submitter (one tenant's user) or worker (a provider's machine).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The tenant of a submitter token.
        #[arg(long)]
        tenant: Option<String>,
        /// Who holds it; a worker's work is billed under this name.
        #[arg(long)]
        name: String,
        /// A worker's device class, as in the price table [default: cpu].
        #[arg(long)]
        class: Option<String>,
        /// A worker's CPU threads, which CPU work is paid by [default: 1].
        #[arg(long)]
        threads: Option<u32>,
        /// A worker the operator vouches for: it also renders jobs submitted with
        /// `--trust verified`.
        #[arg(long)]
        verified: bool,
    },
    /// Lists every token, without secrets.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revokes a token: requests with it are refused from now on, and its event streams end.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        id: i64,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::from_name(s)
        .ok_or_else(|| format!("unknown role '{s}': expected admin, submitter or worker"))
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    match args.command {
        TokenCommand::Create {
            store,
            role,
            tenant,
            name,
            class,
            threads,
            verified,
        } => {
            let (id, token) = store.open()?.issue_token(&NewToken {
                role,
                tenant,
                name,
                device_class: class,
                threads,
                verified,
            })?;
            errln!("token {id} issued; it is shown once, keep it secret");
            outln!("{token}")?;
        }
        TokenCommand::List { store } => {
            let tokens = store.open()?.tokens()?;
            outln!(
                "{:>4}  {:<9} {:<16} {:<20} {:<8} {:>7}  state",
                "id",
                "role",
                "tenant",
                "name",
                "class",
                "threads"
            )?;
            for t in tokens {
                outln!(
                    "{:>4}  {:<9} {:<16} {:<20} {:<8} {:>7}  {}",
                    t.id,
                    t.role.as_str(),
                    clean(t.tenant.as_deref().unwrap_or("-")),
                    clean(&t.name),
                    clean(t.device_class.as_deref().unwrap_or("-")),
                    t.threads.map_or("-".into(), |n| n.to_string()),
                    match (t.revoked, t.verified) {
                        (true, _) => "revoked",
                        (false, true) => "active, verified",
                        (false, false) => "active",
                    }
                )?;
            }
        }
        TokenCommand::Revoke { store, id } => {
            if !store.open()?.revoke_token(id)? {
                anyhow::bail!("no active token {id}");
            }
            errln!("token {id} revoked");
        }
    }
    Ok(())
}
