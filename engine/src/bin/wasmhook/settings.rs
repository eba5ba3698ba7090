//! The settings of `wasmhook serve` on the command line, and
//! `wasmhook config show`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use wasmhook::catalog::CatalogMode;
use wasmhook::config::{Config, LogFormat};

/// The configuration file and the flags; each flag overrides the file and
/// the environment (see the README's configuration reference).
#[derive(clap::Args)]
pub struct Settings {
    /// A TOML configuration file.
    #[arg(long, env = "WASMHOOK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Flags,
}

/// One flag per setting (but the admin token and the secret keys, which
/// stay out of the process list), named after its key; unset flags leave
/// the key alone.
#[derive(clap::Args, Serialize)]
struct Flags {
    /// Address to listen on (port 0: any free port) [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory of the store and the plugin cache [default: ./wasmhook-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An operator's catalogue file (TOML, like the built-in one).
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Whether the catalogue file extends or replaces the built-in catalogue [default: extend].
    #[arg(long, value_enum)]
    catalog_mode: Option<CatalogMode>,
    /// Requests to receivers in flight at once [default: 64].
    #[arg(long)]
    delivery_concurrency: Option<usize>,
    /// Deliveries in flight at once to one hook, for hooks without their own `max_in_flight` [default: 4].
    #[arg(long)]
    delivery_max_in_flight_per_hook: Option<usize>,
    /// Delays before each retry of a failed delivery (units ms, s, m, h) [default: 1m,5m,15m,1h].
    #[arg(long, value_name = "DELAYS")]
    retry_schedule: Option<String>,
    /// Timeout of a delivery, for hooks without their own [default: 30s].
    #[arg(long, value_name = "DURATION")]
    default_timeout: Option<String>,
    /// Record events but deliver nothing (`--disable-webhooks=false` to undo a file's or the environment's).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    disable_webhooks: Option<bool>,
    /// Days events, delivery attempts and hook errors are kept [default: 30].
    #[arg(long)]
    retention_days: Option<u32>,
    /// The longest deadline a plugin's own limits may set, in ms [default: 1000].
    #[arg(long)]
    plugin_max_deadline_ms: Option<u64>,
    /// The most linear memory a plugin's own limits may set, in bytes [default: 256 MiB].
    #[arg(long)]
    plugin_max_memory: Option<u64>,
    /// The largest input and output a plugin's own limits may set, in bytes [default: 4 MiB].
    #[arg(long)]
    plugin_max_io: Option<usize>,
    /// Consecutive traps or timeouts of a serializer version that open its circuit breaker (0: never) [default: 5].
    #[arg(long)]
    plugin_breaker_failures: Option<u32>,
    /// How long an open breaker refuses calls, in seconds [default: 60].
    #[arg(long)]
    plugin_breaker_cooldown_secs: Option<u64>,
    /// Idle plugin instances kept for reuse, each for one academy (~70 KB each for the bundled serializers) [default: 1024].
    #[arg(long)]
    plugin_warm_instances: Option<usize>,
    /// How log lines are written on standard error [default: human].
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// How long a shutdown waits for requests and deliveries in flight [default: 10s].
    #[arg(long, value_name = "DURATION")]
    shutdown_grace: Option<String>,
    /// The address clients reach the API at, which links start with [default: none, links are relative].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// How long a hook's previous signing secret keeps signing after a rotation [default: 24h].
    #[arg(long, value_name = "DURATION")]
    signing_secret_overlap: Option<String>,
}

impl Settings {
    /// The effective configuration: defaults < file < environment < flags.
    pub fn load(&self) -> anyhow::Result<Config> {
        let flags = match serde_json::to_value(&self.flags)? {
            serde_json::Value::Object(flags) => flags,
            _ => unreachable!("flags serialize as a map"),
        };
        // Variables that are not Unicode cannot be settings; their names
        // are passed on, so a `WASMHOOK_*` one is still refused.
        let env = std::env::vars_os()
            .map(|(name, value)| (name.to_string_lossy().into_owned(), value.to_string_lossy().into_owned()));
        Config::load(self.config.as_deref(), env, &flags).context("configuration")
    }
}

#[derive(clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    settings: Settings,
    /// Print JSON rather than TOML.
    #[arg(long)]
    json: bool,
}

/// Prints the effective configuration, secrets redacted.
pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let config = args.settings.load()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&config)?);
    } else {
        print!("{}", toml::to_string(&config)?);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use serde_json::Value;

    use super::*;

    #[derive(Parser)]
    struct OnlyFlags {
        #[command(flatten)]
        flags: Flags,
    }

    /// A flag's `[default: …]` as the value `config show --json` prints.
    fn documented(text: &str) -> Value {
        if text.starts_with("none") {
            return Value::Null;
        }
        if let Some(mib) = text.strip_suffix(" MiB") {
            return Value::from(mib.parse::<u64>().unwrap() << 20);
        }
        if text.contains(',') {
            return text.split(',').map(Value::from).collect();
        }
        text.parse::<u64>().map_or_else(|_| Value::from(text), Value::from)
    }

    /// The flags' help repeats the defaults for `--help`; they are checked
    /// against the embedded ones so that the two cannot drift apart.
    #[test]
    fn the_documented_defaults_are_the_embedded_ones() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let command = OnlyFlags::command();
        let mut checked = 0;
        for arg in command.get_arguments() {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let Some((_, rest)) = help.split_once("[default: ") else { continue };
            let text = rest.strip_suffix("].").or_else(|| rest.strip_suffix(']')).unwrap();
            let key = arg.get_id().as_str();
            assert_eq!(documented(text), defaults[key], "--{}", key.replace('_', "-"));
            checked += 1;
        }
        assert!(checked >= 15, "{checked} documented defaults");
    }
}
