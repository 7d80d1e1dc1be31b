//! The binary: parse the command line, load the configuration, and call into the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::sync::Arc;

use genesys_exporter::config::{Config, QueryConfig};
use genesys_exporter::error::Error;
use genesys_exporter::genesys::client::Client;
use genesys_exporter::genesys::jobs::JobPolicy;
use genesys_exporter::metrics::Metrics;
use genesys_exporter::report::{self, Format};
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
    /// With --demo: the number of simulated queues (the first six are the named demo
    /// queues), to size the demo, e.g. for a load test.
    #[arg(long, value_name = "N", requires = "demo", default_value_t = 6)]
    demo_queues: usize,
    /// With --demo: the media types each simulated queue handles.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "demo",
        default_value = "voice,chat,email,callback"
    )]
    demo_media_types: Vec<String>,
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
    /// Write aggregates for a range of intervals as JSON, CSV or a table, and exit.
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// Start of the range (RFC 3339), on a bucket boundary.
    #[arg(long, value_name = "TIME")]
    from: jiff::Timestamp,
    /// End of the range, exclusive (RFC 3339), on a bucket boundary.
    #[arg(long, value_name = "TIME")]
    to: jiff::Timestamp,
    /// Start from this configured query's settings instead of the defaults.
    #[arg(long, value_name = "NAME")]
    query: Option<String>,
    /// Bucket length, e.g. PT15M, PT1H, P1D.
    #[arg(long)]
    granularity: Option<String>,
    /// Dimensions to group by, comma-separated, e.g. queueId,mediaType.
    #[arg(long, value_delimiter = ',')]
    group_by: Option<Vec<String>>,
    /// Metrics, comma-separated, e.g. nOffered,tHandle.
    #[arg(long, value_delimiter = ',')]
    metrics: Option<Vec<String>>,
    /// The API's filter, as JSON.
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
    /// IANA time zone for P1D, P1W and P1M buckets.
    #[arg(long, value_name = "TZ")]
    time_zone: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write here instead of standard output; nothing is left here on failure.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Use the asynchronous job API for every request.
    #[arg(long = "async")]
    use_job: bool,
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Report from the built-in simulator instead of a Genesys Cloud org.
    #[arg(long)]
    demo: bool,
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
    /// Answer synchronous queries with more group × bucket results than this with
    /// `400 response.entity.too.large`, as the real API does for large answers.
    #[arg(long, value_name = "N")]
    sync_result_limit: Option<usize>,
    /// Groups per page of an aggregates job's results.
    #[arg(long, default_value_t = 50, value_name = "N")]
    job_page_size: usize,
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
            Some(Command::Report(args)) => report(args, shutdown).await,
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
        let org = Org::with_queues(args.demo_queues, args.demo_media_types);
        start_demo(&mut config, org, args.fault, &shutdown).await?;
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

/// Starts the simulator for `org`, playing `faults`, in this process and points `config`
/// at it.
async fn start_demo(
    config: &mut Config,
    org: Org,
    faults: Vec<FaultSpec>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let simulator = SimulatorConfig {
        org,
        faults,
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
    Ok(())
}

async fn report(args: ReportArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if args.demo {
        start_demo(&mut config, Org::demo(), Vec::new(), &shutdown).await?;
    }
    let mut query = match &args.query {
        Some(name) => config
            .queries
            .iter()
            .find(|q| &q.name == name)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = config.queries.iter().map(|q| q.name.as_str()).collect();
                Error::Config(format!(
                    "--query {name}: no such query in the configuration (it has: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ))
            })?,
        None => QueryConfig {
            name: "report".into(),
            ..QueryConfig::default()
        },
    };
    query.granularity = args.granularity.or(query.granularity);
    query.group_by = args.group_by.or(query.group_by);
    query.metrics = args.metrics.or(query.metrics);
    query.time_zone = args.time_zone.or(query.time_zone);
    if let Some(filter) = &args.filter {
        let parsed = serde_json::from_str(filter)
            .map_err(|error| Error::Config(format!("--filter: not JSON: {error}")))?;
        query.filter = Some(parsed);
    }
    // A report is not a set of Prometheus series: any dimension may be a column.
    query.allow_unbounded_labels = true;
    config.queries = vec![query];
    let settings = config.validate()?;
    let request = report::Request {
        query: settings.queries[0].clone(),
        from: args.from,
        to: args.to,
        job_policy: if args.use_job {
            JobPolicy::Always
        } else {
            JobPolicy::WhenTooLarge
        },
    };
    let client = Client::new(&settings.client, Arc::new(Metrics::new([])))?;
    let table = tokio::select! {
        table = report::fetch(&client, &settings, &request, report::progress_bar()) => table?,
        () = shutdown.cancelled() => anyhow::bail!("interrupted; nothing written"),
    };
    match &args.output {
        Some(path) => report::write_file(&table, args.format, path)
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            table.write(args.format, &mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

async fn simulate(args: SimulateArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        client_id: args.client_id,
        client_secret: args.client_secret.into(),
        token_lifetime: Duration::from_secs(args.token_lifetime),
        org: Org::with_queues(args.queues, args.media_types),
        sync_result_limit: args.sync_result_limit,
        job_page_size: args.job_page_size,
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
