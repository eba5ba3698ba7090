//! `wasmhook hooks list [--academy A]`: the hooks the token sees (every
//! page of `GET /v1/notify/hook/subscribe`).

use std::process::ExitCode;

use wasmhook::api::types::HookView;

use crate::client::{Remote, block_on, cell};
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
    let mut hooks: Vec<HookView> = block_on(remote.get_all("/v1/notify/hook/subscribe"))?;
    // The API has no academy filter: an academy token sees only its own.
    if let Some(academy) = &academy {
        hooks.retain(|hook| hook.academy.as_ref() == Some(academy));
    }
    remote.print(&hooks, || {
        let rows = hooks.iter().map(|hook| {
            vec![
                hook.id.to_string(),
                cell(hook.academy.as_ref()),
                hook.settings.event.clone(),
                hook.settings.target.clone(),
                cell(hook.settings.service_id.as_ref()),
                if hook.settings.is_active { "yes" } else { "no" }.to_owned(),
                hook.total_calls.to_string(),
                cell(hook.last_response_code),
                cell(hook.last_call_at),
            ]
        });
        table(&["id", "academy", "event", "target", "service", "active", "calls", "last code", "last call"], rows)
    })
}
