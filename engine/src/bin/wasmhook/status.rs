//! `wasmhook status [--detailed]`: the delivery queue and the hooks' health
//! (`GET /v1/admin/status`; the health rule is documented there).

use std::process::ExitCode;

use wasmhook::api::types::{HookHealth, Status};

use crate::client::{Payload, Remote, block_on, cell, text};
use crate::table::table;

#[derive(clap::Args)]
pub struct Args {
    /// One row per hook.
    #[arg(long)]
    detailed: bool,
    #[command(flatten)]
    remote: Remote,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let body: Status = block_on(args.remote.send(reqwest::Method::GET, "/v1/admin/status", Payload::None))?;
    args.remote.print(&body, || {
        let (queue, hooks, rule) = (&body.queue, &body.hooks, &body.health_rule);
        let mut lines = vec![
            format!(
                "queue    {} pending; oldest due {} (waiting {} s)",
                queue.depth,
                cell(queue.oldest_due_at.as_ref()),
                queue.oldest_wait_seconds
            ),
            format!(
                "hooks    {} ({} active): {} healthy, {} warning, {} critical, {} without attempts",
                hooks.total, hooks.active, hooks.healthy, hooks.warning, hooks.critical, hooks.unknown
            ),
            format!(
                "health   over the last {} attempts: healthy ≥ {} %, warning ≥ {} %, else critical",
                rule.window, rule.healthy_from, rule.warning_from
            ),
        ];
        if args.detailed {
            lines.push(detailed(&body.results));
        }
        lines.join("\n")
    })
}

fn detailed(hooks: &[HookHealth]) -> String {
    let rows = hooks.iter().map(|hook| {
        let rate = hook.success_rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate} %"));
        let health = serde_json::to_value(hook.health).map(|v| text(&v)).unwrap_or_default();
        vec![
            hook.id.to_string(),
            cell(hook.academy.as_ref()),
            hook.event.clone(),
            hook.target.clone(),
            if hook.is_active { "yes" } else { "no" }.to_owned(),
            health,
            format!("{rate} ({}/{})", hook.recent_successes, hook.recent_attempts),
            hook.total_calls.to_string(),
            cell(hook.last_response_code),
            cell(hook.last_call_at.as_ref()),
        ]
    });
    table(
        &["id", "academy", "event", "target", "active", "health", "recent success", "calls", "last code", "last call"],
        rows,
    )
}
