//! The binary: parse the command line, call into the library's `cli`, map the outcome to
//! an exit code (2 for configuration errors).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use genesys_exporter::cli::{self, Cli, Command};
use genesys_exporter::error::Error;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let Cli { command, run } = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let outcome = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cli::cancel_on_signal(shutdown.clone()));
        match command {
            Some(Command::Simulate(args)) => cli::simulate(args, shutdown).await,
            Some(Command::Report(args)) => cli::report(args, shutdown).await,
            None => cli::run(run, shutdown).await,
        }
    });
    // Connections still draining past the deadline must not hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("genesys-exporter: {error:#}");
            match error.downcast_ref::<Error>() {
                Some(Error::Config(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
