//! `wasmhook logs stats|errors|cleanup`: the delivery logs of a running
//! engine — statistics, recent hook errors, and pruning old records now.

use std::process::ExitCode;

use serde_json::json;
use wasmhook::api::types::{AttemptSummary, CleanedUp, HookErrorRecord, LogStats, Page};

use crate::client::{Payload, Remote, block_on, cell};
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
            let body: LogStats = block_on(remote.send(reqwest::Method::GET, &path, Payload::None))?;
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
            let body: CleanedUp = block_on(remote.send(
                reqwest::Method::POST,
                "/v1/admin/logs/cleanup",
                Payload::Json(json!({"days": days})),
            ))?;
            remote.print(&body, || {
                format!(
                    "deleted {} events, {} attempts, {} hook errors recorded before {}",
                    body.events, body.attempts, body.hook_errors, body.cutoff
                )
            })
        }
    }
}

fn stats(body: &LogStats) -> String {
    let rate =
        |summary: &AttemptSummary| summary.success_rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate} %"));
    let totals = &body.totals;
    let mut lines = vec![format!(
        "last {} days (since {}): {} attempts, {} succeeded, {} failed, {} cancelled; success rate {}; average {} ms",
        body.days,
        body.since,
        totals.attempts,
        totals.succeeded,
        totals.failed,
        totals.cancelled,
        rate(totals),
        cell(totals.avg_duration_ms),
    )];
    let classes = totals.by_status_class.iter();
    lines.push(table(&["status class", "attempts"], classes.map(|(class, n)| [class.clone(), n.to_string()])));
    let hooks = body.by_hook.iter().map(|hook| {
        vec![
            hook.id.to_string(),
            cell(hook.academy.as_ref()),
            hook.event.clone(),
            hook.summary.attempts.to_string(),
            hook.summary.succeeded.to_string(),
            hook.summary.failed.to_string(),
            rate(&hook.summary),
            cell(hook.summary.avg_duration_ms),
        ]
    });
    lines
        .push(table(&["hook", "academy", "event", "attempts", "succeeded", "failed", "success rate", "avg ms"], hooks));
    lines.join("\n")
}
