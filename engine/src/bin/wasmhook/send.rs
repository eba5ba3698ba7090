//! `wasmhook send EVENT --academy A --data FILE [--id ID]`: posts one event
//! by hand, as a source application would (`POST /v1/events`; a service or
//! superadmin token).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use wasmhook::api::types::{EventOutcome, EventRecord};

use crate::client::{Payload, Remote, block_on, read_json};

#[derive(clap::Args)]
pub struct Args {
    /// The catalogue event, e.g. `form_entry.won_or_lost`.
    event: String,
    /// The academy the event belongs to.
    #[arg(long)]
    academy: String,
    /// A JSON file with the source object.
    #[arg(long)]
    data: PathBuf,
    /// The event's id (idempotency key; default: a new one).
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let event = json!({"event": args.event, "academy": args.academy, "data": read_json(&args.data)?, "id": args.id});
    let body: EventRecord = block_on(args.remote.send(reqwest::Method::POST, "/v1/events", Payload::Json(event)))?;
    args.remote.print(&body, || {
        let (status, why) = match &body.outcome {
            EventOutcome::Accepted => ("accepted", None),
            EventOutcome::Skipped { reason } => ("skipped", Some(reason)),
            EventOutcome::Suppressed => ("suppressed", None),
            EventOutcome::Failed { error } => ("failed", Some(error)),
        };
        let line = format!("event {} ({}): {status}, {} deliveries queued", body.id, body.event, body.deliveries);
        match why {
            Some(why) => format!("{line} ({why})"),
            None => line,
        }
    })
}
