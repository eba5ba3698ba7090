//! `wasmhook serve`.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use wasmhook::config::Config;
use wasmhook::server::{prepare, serve};

use crate::settings::Settings;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub settings: Settings,
}

pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The handlers are installed before the engine starts: `serve` prints
    // that it listens before it first waits for the signal, and a SIGTERM
    // in between would otherwise kill the process without a clean stop.
    let signals = {
        let _entered = runtime.enter();
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    let result = runtime.block_on(async {
        let prepared = tokio::task::block_in_place(|| prepare(&config))?;
        crate::release_free_memory();
        serve(config, prepared, shutdown_signal(signals)).await
    });
    // Whatever is still running was given its grace period.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal((mut interrupt, mut terminate): (Signal, Signal)) {
    tokio::select! {
        _ = interrupt.recv() => {},
        _ = terminate.recv() => {},
    }
    tracing::info!("shutdown signal received");
}
