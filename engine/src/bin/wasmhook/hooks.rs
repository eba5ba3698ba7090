//! `wasmhook hooks list [--academy A]`: the hooks the token sees (every
//! page of `GET /v1/notify/hook/subscribe`).

use std::process::ExitCode;

use serde_json::Value;

use crate::client::{Remote, block_on, text};
use crate::table::table;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List hooks, with their last call.
    List {
        /// Only this academy's hooks (a superadmin sees every academy's).
        #[arg(long)]
        academy: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::List { academy, remote } = command;
    let mut hooks = block_on(remote.get_all("/v1/notify/hook/subscribe"))?;
    // The API has no academy filter: an academy token sees only its own.
    if let Some(academy) = &academy {
        hooks.retain(|hook| hook["academy"].as_str() == Some(academy));
    }
    let hooks = Value::Array(hooks);
    remote.print(&hooks, || {
        let rows = hooks.as_array().into_iter().flatten().map(|hook| {
            vec![
                hook["id"].to_string(),
                text(&hook["academy"]),
                text(&hook["event"]),
                text(&hook["target"]),
                text(&hook["service_id"]),
                if hook["is_active"] == true { "yes" } else { "no" }.to_owned(),
                hook["total_calls"].to_string(),
                text(&hook["last_response_code"]),
                text(&hook["last_call_at"]),
            ]
        });
        table(&["id", "academy", "event", "target", "service", "active", "calls", "last code", "last call"], rows)
    })
}
