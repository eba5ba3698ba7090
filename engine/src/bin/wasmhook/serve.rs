//! `wasmhook serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wasmhook::catalog::CatalogMode;
use wasmhook::delivery::{DeliveryConfig, RetryPolicy};
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
