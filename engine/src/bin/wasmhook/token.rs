//! `wasmhook token create|list|revoke`: API tokens (`/v1/admin/tokens`,
//! superadmin).

use std::process::ExitCode;

use serde_json::{Value, json};
use wasmhook::api::types::{self, CreatedToken, NewToken, RoleName, TokenRecord};

use crate::client::{Payload, Remote, block_on, cell};
use crate::table::table;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Role {
    Academy,
    Service,
    Superadmin,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a token; it is shown this once.
    Create {
        /// A name to recognise it by.
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// The academy an `academy` token manages.
        #[arg(long, required_if_eq("role", "academy"))]
        academy: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke token ID: it stops working at once.
    Revoke {
        id: u64,
        #[command(flatten)]
        remote: Remote,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Create { name, role, academy, remote } => {
            let (role, shown) = match role {
                Role::Academy => (RoleName::Academy, "academy"),
                Role::Service => (RoleName::Service, "service"),
                Role::Superadmin => (RoleName::Superadmin, "superadmin"),
            };
            let input = serde_json::to_value(NewToken { name, role, academy })?;
            let body: CreatedToken =
                block_on(remote.send(reqwest::Method::POST, "/v1/admin/tokens", Payload::Json(input)))?;
            remote.print(&body, || format!("token {} ({shown}) created; shown once:\n{}", body.record.id, body.token))
        }
        Command::List { remote } => {
            let body: Vec<TokenRecord> =
                block_on(remote.send(reqwest::Method::GET, "/v1/admin/tokens", Payload::None))?;
            remote.print(&body, || {
                let rows = body.iter().map(|token| {
                    let (role, academy) = match &token.role {
                        types::Role::Superadmin => ("superadmin", None),
                        types::Role::Academy { academy } => ("academy", Some(academy)),
                        types::Role::Service => ("service", None),
                    };
                    [
                        token.id.to_string(),
                        token.name.clone(),
                        role.to_owned(),
                        cell(academy),
                        token.created_at.to_string(),
                    ]
                });
                table(&["id", "name", "role", "academy", "created"], rows)
            })
        }
        Command::Revoke { id, remote } => {
            let _: Value =
                block_on(remote.send(reqwest::Method::DELETE, &format!("/v1/admin/tokens/{id}"), Payload::None))?;
            remote.print(&json!({"id": id, "revoked": true}), || format!("token {id} revoked"))
        }
    }
}
