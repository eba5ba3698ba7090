//! `wasmhook plugin upload|list|show|activate|test`: the plugin API of a
//! running engine, from the command line. Human-readable output by default,
//! the API's JSON with `--json`; an API error is one line and a nonzero exit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use wasmhook::api::types::{PluginDetail, PluginVersion, PluginView};

use crate::client::{Payload, Remote, block_on, cell, read_json, text};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Upload a serializer component as the next version of NAME (not
    /// active yet).
    Upload {
        name: String,
        wasm: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// List plugins: bundled ones and uploaded versions.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one plugin: versions, limits, calls, errors, breaker.
    Show {
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Make VERSION of NAME the active one (0: the bundled one); also the
    /// rollback.
    Activate {
        name: String,
        version: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Dry-run NAME on an event (its catalogue sample, or --data): nothing
    /// is delivered.
    Test {
        name: String,
        /// The catalogue event to run it as.
        #[arg(long)]
        event: String,
        /// A JSON file with the source object (default: the event's sample).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        academy: Option<String>,
        /// A version other than the active one.
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    block_on(execute(command))
}

async fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Upload { name, wasm, remote } => {
            let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            let body: PluginVersion =
                remote.send(reqwest::Method::POST, &format!("/v1/plugins/{name}"), Payload::Wasm(bytes)).await?;
            remote.print(&body, || {
                format!(
                    "uploaded {name} version {v} (sha256 {sha}, {size} bytes), not active: wasmhook plugin activate {name} {v}",
                    v = body.version,
                    sha = body.sha256,
                    size = body.size,
                )
            })
        }
        Command::List { remote } => {
            let body: Vec<PluginView> = remote.send(reqwest::Method::GET, "/v1/plugins", Payload::None).await?;
            remote.print(&body, || {
                let rows = body.iter().map(|plugin| {
                    let mut versions: Vec<String> =
                        if plugin.bundled { vec!["0 (bundled)".into()] } else { Vec::new() };
                    versions.extend(plugin.versions.iter().map(|v| v.version.to_string()));
                    format!(
                        "{:<24} active {:<6} versions {}",
                        plugin.name,
                        cell(plugin.active_version),
                        versions.join(", ")
                    )
                });
                rows.collect::<Vec<_>>().join("\n")
            })
        }
        Command::Show { name, remote } => {
            let body: PluginDetail =
                remote.send(reqwest::Method::GET, &format!("/v1/plugins/{name}"), Payload::None).await?;
            remote.print(&body, || {
                let limits = &body.limits;
                let mut lines = vec![format!(
                    "{name}: active version {}; limits: deadline {} ms, memory {} bytes, input {} / output {} bytes",
                    cell(body.active_version),
                    limits.deadline_ms,
                    limits.max_memory,
                    limits.max_input,
                    limits.max_output
                )];
                lines.extend(body.versions.iter().map(|v| {
                    format!(
                        "  {}version {:<3} sha256 {:.16}…  calls {} errors {} refused {}{}",
                        if v.active { "* " } else { "  " },
                        v.version,
                        v.sha256,
                        v.health.calls,
                        v.health.errors,
                        v.health.refused,
                        if v.health.breaker.open { "  BREAKER OPEN" } else { "" },
                    )
                }));
                lines.join("\n")
            })
        }
        Command::Activate { name, version, remote } => {
            let path = format!("/v1/plugins/{name}/activate");
            let body: PluginView =
                remote.send(reqwest::Method::POST, &path, Payload::Json(json!({"version": version}))).await?;
            remote.print(&body, || format!("{name}: version {version} is active"))
        }
        Command::Test { name, event, data, academy, version, remote } => {
            let mut input = json!({"event": event, "academy": academy});
            if let Some(path) = data {
                input["data"] = read_json(&path)?;
            }
            let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
            let body: Value = remote
                .send(reqwest::Method::POST, &format!("/v1/plugins/{name}/test{query}"), Payload::Json(input))
                .await?;
            remote.print(&body, || {
                let mut lines =
                    vec![format!("outcome  {}", serde_json::to_string_pretty(&body["outcome"]).unwrap_or_default())];
                lines.extend(
                    body["logs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| format!("log      [{}] {}", text(&l["level"]), text(&l["message"]))),
                );
                lines.push(format!(
                    "duration {} µs (deadline {} ms)",
                    body["duration_us"], body["limits"]["deadline_ms"]
                ));
                lines.push(format!(
                    "memory   {} bytes peak (cap {})",
                    body["peak_memory"], body["limits"]["max_memory"]
                ));
                lines.join("\n")
            })?;
            Ok(if body["outcome"]["decision"] == "error" { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
