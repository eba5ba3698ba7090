//! The `wasmhook` binary: the engine and the operator's CLI.

mod plugin_api;
mod plugin_run;
mod serve;
mod settings;

use std::process::ExitCode;

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
        command => {
            init_tracing(LogFormat::Human);
            match command {
                Command::Serve(_) => unreachable!("handled above"),
                Command::Config(ConfigCommand::Show(args)) => settings::show(args),
                Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(args),
                Command::Plugin(PluginCommand::Api(command)) => plugin_api::run(command),
            }
        }
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
/// is unset), as text or one JSON object per line.
fn init_tracing(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
