//! `wasmhook plugin run`: a function runner for plugin authors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use wasmhook::bundled;
use wasmhook::runtime::{Event, Runtime, RuntimeConfig};

#[derive(clap::Args)]
pub struct Args {
    /// The serializer component to run.
    #[arg(long, conflicts_with = "bundled", required_unless_present = "bundled")]
    wasm: Option<PathBuf>,
    /// A bundled serializer to run instead (e.g. `mentorship`).
    #[arg(long)]
    bundled: Option<String>,
    /// The event, as posted to the ingest API:
    /// `{"event": NAME, "academy": SLUG, "data": {...}}`.
    #[arg(long)]
    event: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The event file: the ingest API's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    event: String,
    #[serde(default)]
    action: String,
    academy: Option<String>,
    data: Value,
    id: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = match (&args.wasm, &args.bundled) {
        (Some(path), _) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        (None, Some(name)) => match bundled::find(name) {
            Some(plugin) => plugin.wasm.to_vec(),
            None => bail!("no bundled plugin {name:?}"),
        },
        (None, None) => unreachable!("clap requires --wasm or --bundled"),
    };
    let text = std::fs::read_to_string(&args.event).with_context(|| format!("cannot read {}", args.event.display()))?;
    let file: EventFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not an event file", args.event.display()))?;
    let event = Event {
        id: file.id.unwrap_or_else(|| "evt_local".into()),
        name: file.event,
        action: file.action,
        academy: file.academy,
        occurred_at: "1970-01-01T00:00:00Z".into(),
        data: file.data.to_string(),
    };

    // One call: no instance is kept for another.
    let runtime =
        Runtime::new(RuntimeConfig { max_concurrent_calls: 1, warm_instances: 0, ..RuntimeConfig::default() })?;
    let name = args.bundled.as_deref().unwrap_or("local");
    let plugin = runtime.load_serializer(name, &bytes)?;
    let call = runtime.serialize(&plugin, &event);

    let code = if call.result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    let mut report = call.report();
    let limits = runtime.limits();
    if args.json {
        report["plugin"] = json!({"sha256": plugin.info().digest.hex(), "size": plugin.info().size});
        report["limits"] = json!({"deadline_ms": limits.deadline.as_millis() as u64, "max_memory": limits.max_memory});
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("plugin   sha256:{} ({} bytes)", plugin.info().digest, plugin.info().size);
        println!("outcome  {}", serde_json::to_string_pretty(&report["outcome"])?);
        for line in &call.logs {
            println!("log      [{:?}] {}", line.level, line.message);
        }
        println!("duration {} µs (deadline {} ms)", call.duration.as_micros(), limits.deadline.as_millis());
        println!("memory   {} KiB peak (cap {} KiB)", call.peak_memory >> 10, limits.max_memory >> 10);
    }
    Ok(code)
}
