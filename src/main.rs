//! The binary: parse the command line, load the configuration, and call into the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use genesys_exporter::config::Config;
use genesys_exporter::error::Error;
use genesys_exporter::schedule::Clock;
use genesys_exporter::simulator::{FaultSpec, Org, Simulator, SimulatorConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Prometheus exporter for Genesys Cloud conversation aggregates.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// TOML configuration file; environment variables override it.
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address to serve /metrics on (overrides `listen`; default 0.0.0.0:9871).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Run against the built-in simulator instead of a Genesys Cloud org.
    #[arg(long)]
    demo: bool,
    /// With --demo: start the clock at this time (RFC 3339) instead of now, for a
    /// reproducible demo, e.g. 2026-08-20T14:07:00Z, a weekday afternoon.
    #[arg(long, value_name = "TIME", requires = "demo")]
    demo_time: Option<jiff::Timestamp>,
    /// Check the configuration, print a summary and exit (0 if it is valid).
    #[arg(long)]
    check_config: bool,
    /// With --demo: a fault for the simulator to play, as for `simulate --fault`.
    #[arg(long, value_name = "FAULT", requires = "demo")]
    fault: Vec<FaultSpec>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the fake Genesys Cloud API (OAuth, aggregates query, routing queues).
    Simulate(SimulateArgs),
}

#[derive(Args)]
struct SimulateArgs {
    #[arg(long, default_value = "127.0.0.1:9872", value_name = "ADDR")]
    listen: SocketAddr,
    /// Number of queues; the first six are the named demo queues.
    #[arg(long, default_value_t = 6)]
    queues: usize,
    /// Media types each queue handles.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "voice,chat,email,callback"
    )]
    media_types: Vec<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 86_400)]
    token_lifetime: u64,
    #[arg(long, default_value = "demo-client")]
    client_id: String,
    #[arg(long, default_value = "demo-secret")]
    client_secret: String,
    /// A fault to play, repeatable: a name and key=value fields, such as
    /// `unavailable,seconds=30`, `rate_limited,retry_after=5,requests=3`,
    /// `slow,delay=40`, `reset`, `revoke_tokens,after=60`, `forbidden` or
    /// `malformed,body=html` (also invalid_json, truncated, wrong_types, unknown_metric,
    /// missing_fields, out_of_range, empty). Common fields: after, seconds, requests, path.
    /// More can be set while it runs with POST /simulator/faults.
    #[arg(long, value_name = "FAULT")]
    fault: Vec<FaultSpec>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        match cli.command {
            Some(Command::Simulate(args)) => simulate(args, shutdown).await,
            None => run(cli.run, shutdown).await,
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

async fn run(args: RunArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = Some(listen);
    }
    if args.demo {
        let simulator = SimulatorConfig {
            faults: args.fault,
            ..SimulatorConfig::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tracing::info!(%url, "demo mode: serving the simulated Genesys Cloud API");
        config.api_url = Some(url.clone());
        config.login_url = Some(url);
        config.region = None;
        config.client_id = Some(simulator.client_id.clone());
        config.client_secret = Some(simulator.client_secret.clone());
        config.client_secret_file = None;
        let simulator = Simulator::new(simulator);
        let stop = shutdown.clone();
        tokio::spawn(async move { simulator.serve(listener, stop).await });
    }
    let settings = config.validate()?;
    if args.check_config {
        let names: Vec<&str> = settings.queries.iter().map(|q| q.name.as_str()).collect();
        eprintln!(
            "configuration is valid: {} queries ({})",
            names.len(),
            names.join(", ")
        );
        return Ok(());
    }
    let listener = TcpListener::bind(settings.listen).await.map_err(|error| {
        anyhow::anyhow!(
            "cannot listen on {}: {error}; choose another address with --listen or `listen`",
            settings.listen
        )
    })?;
    tracing::info!(
        address = %listener.local_addr()?,
        queries = settings.queries.len(),
        "serving /metrics"
    );
    let clock = match args.demo_time {
        Some(start) => Clock::starting_at(start),
        None => Clock::System,
    };
    genesys_exporter::exporter::run(settings, listener, clock, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn simulate(args: SimulateArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        client_id: args.client_id,
        client_secret: args.client_secret.into(),
        token_lifetime: Duration::from_secs(args.token_lifetime),
        org: Org::with_queues(args.queues, args.media_types),
        faults: args.fault,
        ..SimulatorConfig::default()
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "simulated Genesys Cloud API listening");
    Simulator::new(config).serve(listener, shutdown).await;
    Ok(())
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
