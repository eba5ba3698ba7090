//! `wasmhook serve`.

use std::process::ExitCode;
use std::time::Duration;

use wasmhook::config::Config;
use wasmhook::server::serve;

use crate::settings::Settings;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub settings: Settings,
}

pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(serve(config, shutdown_signal()));
    // Whatever is still running was given its grace period.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
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
    tracing::info!("shutdown signal received");
}
