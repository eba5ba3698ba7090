//! `wasmhook store export|import`: a node's setup and queue as a file, and
//! that file written into another store (`wasmhook::store::transfer`).
//! Both open the store `serve` would open, with the same settings, so the
//! import seals the hooks' secrets with the keys the engines on that
//! database will use.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use wasmhook::config::Config;
use wasmhook::server::open_store;
use wasmhook::store::transfer::{self, Counts, Reader};
use wasmhook::store::{Backend, RedbStore, Store};

use crate::settings::Settings;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write the store's hooks (with their secrets), tokens, catalogue
    /// additions, plugins and queued deliveries to a file, to import
    /// elsewhere. Stop the engine first.
    Export {
        /// The file to create (readable by its owner only); standard output if omitted.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Write an export into the configured store, which must be a new
    /// PostgreSQL database (`store = "postgres"`, its `url`, and the
    /// engines' secret key).
    Import {
        /// The file `wasmhook store export` wrote.
        file: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _entered = runtime.enter();
    match command {
        Command::Export { output, settings } => {
            let config = settings.load()?;
            let store = open(&config, true)?;
            let from = store.location();
            let counts = match &output {
                Some(path) => {
                    let file = wasmhook::data_dir::create_private_file(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut out = BufWriter::new(file);
                    let counts = runtime.block_on(transfer::export(&*store, &from, &mut out))?;
                    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                    counts
                }
                None => runtime.block_on(transfer::export(&*store, &from, &mut std::io::stdout().lock()))?,
            };
            runtime.block_on(store.sync())?;
            eprintln!("exported from {from}: {}", summary(&counts));
        }
        Command::Import { file, settings } => {
            let config = settings.load()?;
            let input = File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let store = open(&config, false)?;
            let mut records = Reader::new(BufReader::new(input));
            let counts = runtime.block_on(store.import(&mut records))?;
            eprintln!("imported into {}: {}", store.location(), summary(&counts));
        }
    }
    std::io::stdout().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The store `serve` would open; for an export, one that exists (a data
/// directory without a store is a mistyped path, not an empty store).
fn open(config: &Config, existing: bool) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if existing && config.store == Backend::Redb {
        let file = config.data_dir.join(RedbStore::FILE_NAME);
        if !file.exists() {
            bail!("no store at {}: is --data-dir the engine's data directory?", file.display());
        }
    }
    Ok(open_store(config)?)
}

fn summary(counts: &Counts) -> String {
    format!(
        "{} hooks, {} tokens, {} catalogue events, {} plugin versions ({} with limits), {} components, \
         {} queued deliveries ({} payloads)",
        counts.hooks,
        counts.tokens,
        counts.catalog_events,
        counts.plugin_versions,
        counts.plugin_limits,
        counts.components,
        counts.jobs,
        counts.payloads
    )
}
