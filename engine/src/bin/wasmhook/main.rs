//! The `wasmhook` binary: the engine and the operator's CLI.

mod client;
mod hooks;
mod logs;
mod plugin_api;
mod plugin_run;
mod send;
mod serve;
mod settings;
mod status;
mod store;
mod table;
mod test_endpoint;
mod token;

use std::io::IsTerminal;
use std::process::ExitCode;

/// jemalloc rather than glibc's allocator: under load glibc's `malloc` and
/// `free` took about a quarter of the engine's CPU time, across threads.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Gives the allocator's free pages back to the system now, not after
/// jemalloc's 10 s decay. Called once the engine is prepared: on a fresh
/// data directory it has just compiled the bundled plugins, whose ~15 MiB
/// of garbage a load arriving right after start would otherwise find
/// still resident (`bench/e2e`, scenario B: peak RSS 103 → 95 MiB).
fn release_free_memory() {
    // `arena.<MALLCTL_ARENAS_ALL>.purge`: every arena.
    const PURGE_ALL: &std::ffi::CStr = c"arena.4096.purge";
    let null = std::ptr::null_mut();
    // SAFETY: a purge reads and writes no value: null pointers, length 0.
    let failed = unsafe { tikv_jemalloc_sys::mallctl(PURGE_ALL.as_ptr(), null, null.cast(), null, 0) };
    if failed != 0 {
        tracing::debug!(error = failed, "the allocator did not purge its free pages");
    }
}

use clap::{Parser, Subcommand};
use wasmhook::config::LogFormat;

#[derive(Parser)]
#[command(name = "wasmhook", version, about = "A webhook engine whose payload logic runs as WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine: the API, on the embedded defaults unless told otherwise.
    Serve(serve::Args),
    /// The engine's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The delivery queue and each hook's health.
    Status(status::Args),
    /// Delivery log statistics, recent errors, cleanup.
    #[command(subcommand)]
    Logs(logs::Command),
    /// Send a signed test webhook to URL and show the answer.
    TestEndpoint(test_endpoint::Args),
    /// Post one event by hand.
    Send(send::Args),
    /// API tokens.
    #[command(subcommand)]
    Token(token::Command),
    /// Hooks.
    #[command(subcommand)]
    Hooks(hooks::Command),
    /// Move a node's store: export it to a file, import that file into PostgreSQL.
    #[command(subcommand)]
    Store(store::Command),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the configuration `serve` would run with (defaults < file <
    /// environment < flags) as TOML, secrets redacted.
    Show(settings::ShowArgs),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Run a serializer on one event locally, exactly as the engine would,
    /// and print its decision, logs, duration and memory.
    Run(plugin_run::Args),
    /// The plugin API of a running engine.
    #[command(flatten)]
    Api(plugin_api::Command),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        // The configuration picks the log format: it is read first.
        Command::Serve(args) => args.settings.load().and_then(|config| {
            init_tracing(config.log_format);
            serve::run(config)
        }),
        Command::Config(ConfigCommand::Show(args)) => human(|| settings::show(args)),
        Command::Plugin(PluginCommand::Run(args)) => human(|| plugin_run::run(args)),
        Command::Plugin(PluginCommand::Api(command)) => human(|| plugin_api::run(command)),
        Command::Status(args) => human(|| status::run(args)),
        Command::Logs(command) => human(|| logs::run(command)),
        Command::TestEndpoint(args) => human(|| test_endpoint::run(args)),
        Command::Send(args) => human(|| send::run(args)),
        Command::Token(command) => human(|| token::run(command)),
        Command::Hooks(command) => human(|| hooks::run(command)),
        Command::Store(command) => human(|| store::run(command)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("wasmhook: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Log lines on standard error, filtered by `RUST_LOG` (errors only when it
/// is unset), as text or one JSON object per line. Text is coloured only on
/// a terminal: a journal or a log file would keep the escape codes.
fn init_tracing(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Runs a command that is not the engine itself, with human-readable logs.
fn human<T>(command: impl FnOnce() -> T) -> T {
    init_tracing(LogFormat::Human);
    command()
}
