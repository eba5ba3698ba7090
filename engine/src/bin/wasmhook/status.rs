//! `wasmhook status [--detailed]`: the delivery queue and the hooks' health
//! (`GET /v1/admin/status`; the health rule is documented there).

use std::process::ExitCode;

use serde_json::Value;

use crate::client::{Payload, Remote, block_on, text};
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
    let body: Value = block_on(args.remote.send(reqwest::Method::GET, "/v1/admin/status", Payload::None))?;
    args.remote.print(&body, || {
        let (queue, hooks, rule) = (&body["queue"], &body["hooks"], &body["health_rule"]);
        let mut lines = vec![
            format!(
                "queue    {} pending; oldest due {} (waiting {} s)",
                queue["depth"],
                text(&queue["oldest_due_at"]),
                queue["oldest_wait_seconds"]
            ),
            format!(
                "hooks    {} ({} active): {} healthy, {} warning, {} critical, {} without attempts",
                hooks["total"],
                hooks["active"],
                hooks["healthy"],
                hooks["warning"],
                hooks["critical"],
                hooks["unknown"]
            ),
            format!(
                "health   over the last {} attempts: healthy ≥ {} %, warning ≥ {} %, else critical",
                rule["window"], rule["healthy_from"], rule["warning_from"]
            ),
        ];
        if args.detailed {
            lines.push(detailed(&body["results"]));
        }
        lines.join("\n")
    })
}

fn detailed(hooks: &Value) -> String {
    let rows = hooks.as_array().into_iter().flatten().map(|hook| {
        let rate = hook["success_rate"].as_f64().map_or_else(|| "-".to_owned(), |rate| format!("{rate} %"));
        vec![
            hook["id"].to_string(),
            text(&hook["academy"]),
            text(&hook["event"]),
            text(&hook["target"]),
            if hook["is_active"] == true { "yes" } else { "no" }.to_owned(),
            text(&hook["health"]),
            format!("{rate} ({}/{})", hook["recent_successes"], hook["recent_attempts"]),
            hook["total_calls"].to_string(),
            text(&hook["last_response_code"]),
            text(&hook["last_call_at"]),
        ]
    });
    table(
        &["id", "academy", "event", "target", "active", "health", "recent success", "calls", "last code", "last call"],
        rows,
    )
}
