//! `wasmhook token create|list|revoke`: API tokens (`/v1/admin/tokens`,
//! superadmin).

use std::process::ExitCode;

use serde_json::json;

use crate::client::{Payload, Remote, block_on, text};
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
            let role = match role {
                Role::Academy => "academy",
                Role::Service => "service",
                Role::Superadmin => "superadmin",
            };
            let input = json!({"name": name, "role": role, "academy": academy});
            let body = block_on(remote.send(reqwest::Method::POST, "/v1/admin/tokens", Payload::Json(input)))?;
            remote.print(&body, || {
                format!("token {} ({role}) created; shown once:\n{}", body["id"], text(&body["token"]))
            })
        }
        Command::List { remote } => {
            let body = block_on(remote.send(reqwest::Method::GET, "/v1/admin/tokens", Payload::None))?;
            remote.print(&body, || {
                let rows = body.as_array().into_iter().flatten().map(|token| {
                    [&token["id"], &token["name"], &token["role"], &token["academy"], &token["created_at"]].map(text)
                });
                table(&["id", "name", "role", "academy", "created"], rows)
            })
        }
        Command::Revoke { id, remote } => {
            block_on(remote.send(reqwest::Method::DELETE, &format!("/v1/admin/tokens/{id}"), Payload::None))?;
            remote.print(&json!({"id": id, "revoked": true}), || format!("token {id} revoked"))
        }
    }
}
