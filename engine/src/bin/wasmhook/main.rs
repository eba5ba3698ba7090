//! The `wasmhook` binary: the engine and the operator's CLI.

mod client;
mod hooks;
mod logs;
mod plugin_api;
mod plugin_run;
mod send;
mod serve;
mod status;
mod table;
mod test_endpoint;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::run(args),
        Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(args),
        Command::Plugin(PluginCommand::Api(command)) => plugin_api::run(command),
        Command::Status(args) => status::run(args),
        Command::Logs(command) => logs::run(command),
        Command::TestEndpoint(args) => test_endpoint::run(args),
        Command::Send(args) => send::run(args),
        Command::Token(command) => token::run(command),
        Command::Hooks(command) => hooks::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("wasmhook: {error:#}");
            ExitCode::from(2)
        }
    }
}
