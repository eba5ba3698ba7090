//! `wasmhook serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wasmhook::catalog::CatalogMode;
use wasmhook::delivery::{DeliveryConfig, RetryPolicy};
use wasmhook::runtime::{BreakerConfig, Limits};
use wasmhook::server::{ServeOptions, serve};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "WASMHOOK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory of the store and the plugin cache.
    #[arg(long, env = "WASMHOOK_DATA_DIR", default_value = "./wasmhook-data")]
    data_dir: PathBuf,
    /// An operator's catalogue file (TOML, like the built-in one).
    #[arg(long, env = "WASMHOOK_CATALOG")]
    catalog: Option<PathBuf>,
    /// Whether the file extends or replaces the built-in catalogue.
    #[arg(long, env = "WASMHOOK_CATALOG_MODE", value_enum, default_value_t = CatalogMode::Extend)]
    catalog_mode: CatalogMode,
    /// The bootstrap superadmin token (read from the environment only, so
    /// it does not show in the process list).
    #[arg(skip = std::env::var("WASMHOOK_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()))]
    admin_token: Option<String>,
    /// Delays before each retry of a failed delivery (units ms, s, m, h).
    #[arg(long, env = "WASMHOOK_RETRY_SCHEDULE", default_value = "1m,5m,15m,1h", value_parser = parse_schedule)]
    retry_schedule: Schedule,
    /// Deliveries in flight at once.
    #[arg(long, env = "WASMHOOK_DELIVERY_CONCURRENCY", default_value_t = 64)]
    delivery_concurrency: usize,
    /// Record events but deliver nothing.
    #[arg(long, env = "WASMHOOK_DISABLE_WEBHOOKS")]
    disable_webhooks: bool,
    /// Days events, delivery attempts and hook errors are kept.
    #[arg(long, env = "WASMHOOK_RETENTION_DAYS", default_value_t = 30)]
    retention_days: u32,
    /// The longest deadline a plugin's own limits may set, in ms.
    #[arg(long, env = "WASMHOOK_PLUGIN_MAX_DEADLINE_MS", default_value_t = Limits::default_maxima().deadline.as_millis() as u64)]
    plugin_max_deadline_ms: u64,
    /// The most linear memory a plugin's own limits may set, in bytes.
    #[arg(long, env = "WASMHOOK_PLUGIN_MAX_MEMORY", default_value_t = Limits::default_maxima().max_memory)]
    plugin_max_memory: u64,
    /// The largest input and output a plugin's own limits may set, in bytes.
    #[arg(long, env = "WASMHOOK_PLUGIN_MAX_IO", default_value_t = Limits::default_maxima().max_input)]
    plugin_max_io: usize,
    /// Consecutive traps or timeouts of a serializer version that open its
    /// circuit breaker (0: never).
    #[arg(long, env = "WASMHOOK_PLUGIN_BREAKER_FAILURES", default_value_t = BreakerConfig::default().failures)]
    plugin_breaker_failures: u32,
    /// How long an open breaker refuses calls, in seconds.
    #[arg(long, env = "WASMHOOK_PLUGIN_BREAKER_COOLDOWN_SECS", default_value_t = BreakerConfig::default().cool_down.as_secs())]
    plugin_breaker_cooldown_secs: u64,
}

/// A parsed retry schedule (clap needs a named type).
#[derive(Clone)]
struct Schedule(Vec<Duration>);

fn parse_schedule(text: &str) -> Result<Schedule, String> {
    wasmhook::delivery::retry::parse_schedule(text).map(Schedule)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir,
        catalog: args.catalog.map(|path| (path, args.catalog_mode)),
        admin_token: args.admin_token,
        delivery: DeliveryConfig {
            concurrency: args.delivery_concurrency.max(1),
            retry: RetryPolicy { schedule: args.retry_schedule.0, ..RetryPolicy::default() },
            ..DeliveryConfig::default()
        },
        webhooks_disabled: args.disable_webhooks,
        retention_days: args.retention_days,
        plugin_max_limits: Limits {
            deadline: Duration::from_millis(args.plugin_max_deadline_ms),
            max_memory: args.plugin_max_memory,
            max_input: args.plugin_max_io,
            max_output: args.plugin_max_io,
            ..Limits::default_maxima()
        },
        breaker: BreakerConfig {
            failures: args.plugin_breaker_failures,
            cool_down: Duration::from_secs(args.plugin_breaker_cooldown_secs),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(options, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install the SIGTERM handler");
    tokio::select! {
        _ = interrupt => {},
        _ = terminate.recv() => {},
    }
    tracing::info!("shutting down");
}
