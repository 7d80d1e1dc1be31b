//! The binary: parse the command line, call into the library's `cli`, map the outcome to
//! an exit code (2 for configuration errors).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use genesys_exporter::cli::{self, Cli, Command, logging};
use genesys_exporter::error::Error;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    genesys_exporter::memory::tune_malloc();
    let Cli {
        version,
        log_level,
        log_format,
        command,
        run,
    } = Cli::parse();
    if version {
        // Not print!, which panics when stdout is closed (`--version | head -c0`); a
        // reader that has gone has what it wanted.
        let text = genesys_exporter::metrics::BUILD.version_text();
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return ExitCode::SUCCESS;
    }
    match logging::rust_log().and_then(|rust_log| logging::filter(log_level, rust_log.as_deref())) {
        Ok(filter) => logging::init(filter, log_format),
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "genesys-exporter: {error}");
            return ExitCode::from(2);
        }
    }
    log_panics_on_one_line();
    raise_open_file_limit();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let outcome = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cli::cancel_on_signal(shutdown.clone()));
        if command.is_some() {
            run.refuse_shard_flags()?;
        }
        match command {
            #[cfg(feature = "demo")]
            Some(Command::Simulate(args)) => cli::simulate(args, shutdown).await,
            Some(Command::Report(args)) => cli::report(args, shutdown).await,
            Some(Command::Catalogue) => cli::catalogue(),
            None => cli::run(run, shutdown).await,
        }
    });
    // Connections still draining past the deadline must not hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // Standard output's reader stopped reading (`report | head`): it has what it
        // wanted, and the command ends quietly, as a Unix filter does.
        Err(error) if is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Not eprintln!, which panics when stderr is closed (`2>&-`, or `2>&1 | head`).
            let _ = writeln!(std::io::stderr(), "genesys-exporter: {error:#}");
            match error.downcast_ref::<Error>() {
                Some(Error::Config(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// Whether `error` is a write to standard output whose reader has gone: the commands
/// return their output's `io::Error` as is, and every other failure in a type of its own.
fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Raises the soft limit on open files to the hard limit, as Go programs do: each scrape
/// and each API request holds a descriptor, and the usual soft limit of 1024 is soon
/// reached. Where it cannot (a seccomp filter, a container), the current limit stays.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => {
            tracing::info!(%error, "cannot raise the open file limit; keeping the current one")
        }
    }
}

/// Writes a panic as one log line (where, and the message escaped) instead of the
/// default hook's lines and backtrace. A poller's panic is contained: the exporter logs
/// the query and restarts it (`collect::spawn`); this line says where it happened.
fn log_panics_on_one_line() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        tracing::error!(%location, panic = ?message, "panic");
    }));
}
