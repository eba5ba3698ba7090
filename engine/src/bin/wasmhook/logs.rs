//! `wasmhook logs stats|errors|cleanup`: the delivery logs of a running
//! engine — statistics, recent hook errors, and pruning old records now.

use std::process::ExitCode;

use serde_json::{Value, json};
use wasmhook::api::types::{HookErrorRecord, Page};

use crate::client::{Payload, Remote, block_on, cell, text};
use crate::table::table;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Attempts of the last days: totals, success rate, by status class and
    /// by hook.
    Stats {
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// The most recent hook errors (failed attempts, failed serializers).
    Errors {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete events, attempts and hook errors older than DAYS days (0:
    /// everything before now); queued deliveries are kept.
    Cleanup {
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        remote: Remote,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Stats { days, remote } => {
            let path = format!("/v1/admin/logs/stats?days={days}");
            let body: Value = block_on(remote.send(reqwest::Method::GET, &path, Payload::None))?;
            remote.print(&body, || stats(&body))
        }
        Command::Errors { limit, remote } => {
            let path = format!("/v1/notify/hook/errors?limit={limit}");
            let body: Page<HookErrorRecord> = block_on(remote.send(reqwest::Method::GET, &path, Payload::None))?;
            remote.print(&body, || {
                let rows = body.results.iter().map(|error| {
                    let at = error.at.to_string();
                    [at, cell(error.hook_id), cell(error.academy.as_ref()), error.event.clone(), error.message.clone()]
                });
                let shown = body.results.len();
                format!(
                    "{}\n{shown} of {} errors",
                    table(&["at", "hook", "academy", "event", "message"], rows),
                    body.count
                )
            })
        }
        Command::Cleanup { days, remote } => {
            // One transaction on the engine's side: no steps to report, but
            // say what is happening while it runs.
            if !remote.json {
                eprintln!("deleting records older than {days} days…");
            }
            let body: Value = block_on(remote.send(
                reqwest::Method::POST,
                "/v1/admin/logs/cleanup",
                Payload::Json(json!({"days": days})),
            ))?;
            remote.print(&body, || {
                format!(
                    "deleted {} events, {} attempts, {} hook errors recorded before {}",
                    body["events"],
                    body["attempts"],
                    body["hook_errors"],
                    text(&body["cutoff"])
                )
            })
        }
    }
}

fn stats(body: &Value) -> String {
    let rate = |v: &Value| v["success_rate"].as_f64().map_or_else(|| "-".to_owned(), |rate| format!("{rate} %"));
    let mut lines = vec![format!(
        "last {} days (since {}): {} attempts, {} succeeded, {} failed, {} cancelled; success rate {}; average {} ms",
        body["days"],
        text(&body["since"]),
        body["attempts"],
        body["succeeded"],
        body["failed"],
        body["cancelled"],
        rate(body),
        text(&body["avg_duration_ms"]),
    )];
    let classes = body["by_status_class"].as_object().into_iter().flatten();
    lines.push(table(&["status class", "attempts"], classes.map(|(class, n)| [class.clone(), n.to_string()])));
    let hooks = body["by_hook"].as_array().into_iter().flatten().map(|hook| {
        vec![
            hook["id"].to_string(),
            text(&hook["academy"]),
            text(&hook["event"]),
            hook["attempts"].to_string(),
            hook["succeeded"].to_string(),
            hook["failed"].to_string(),
            rate(hook),
            text(&hook["avg_duration_ms"]),
        ]
    });
    lines
        .push(table(&["hook", "academy", "event", "attempts", "succeeded", "failed", "success rate", "avg ms"], hooks));
    lines.join("\n")
}
