//! The command line: its commands and flags, and the wiring from them to the library.
//! The exporter (with `--demo`, the simulator started in this process), the one-shot
//! report (a configured query overridden by flags, with a progress bar) and the simulator
//! on its own; the binary only parses, dispatches and maps errors to exit codes.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DEFAULT_LISTEN, OrgConfig, QueryConfig};
use crate::error::Error;
use crate::genesys::client::Client;
use crate::genesys::jobs::JobPolicy;
use crate::metrics::Metrics;
use crate::report;
use crate::schedule::Clock;
use crate::simulator::{DEMO_MEDIA_TYPES, FaultSpec, Org, Simulator, SimulatorConfig, SurgeSpec};

/// Prometheus exporter for Genesys Cloud conversation aggregates.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct RunArgs {
    /// TOML configuration file; environment variables override it.
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    // The help names DEFAULT_LISTEN rather than repeating it; no `default_value`, which
    // would override the `listen` key of the file and the environment.
    #[arg(
        long,
        value_name = "ADDR",
        help = format!("Address to serve /metrics on (overrides `listen`; default {DEFAULT_LISTEN})")
    )]
    listen: Option<String>,
    /// A Prometheus exporter-toolkit web config file (TLS, basic auth, headers) to secure
    /// /metrics with; overrides `web_config_file`.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// Let `POST /-/reload` reload the configuration, as Prometheus's flag of the same
    /// name does (SIGHUP always reloads it).
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
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
    /// With --demo: an abandon surge for the simulator to play, as for `simulate --surge`,
    /// e.g. Sales@2026-08-20T14:10:00Z.
    #[arg(long, value_name = "SURGE", requires = "demo")]
    demo_surge: Option<SurgeSpec>,
    /// With --demo: simulate several orgs of these names, e.g. east,west, each on a
    /// simulator of its own with its own credentials and data, as [[orgs]] tables that
    /// replace any in the file.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', requires = "demo")]
    demo_orgs: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the fake Genesys Cloud API (OAuth, aggregates query, routing queues).
    Simulate(SimulateArgs),
    /// Write aggregates for a range of intervals as JSON, CSV or a table, and exit.
    Report(ReportArgs),
    /// Print every metric (its kind and gauges), groupBy dimension (its label) and queue
    /// observation metric (its gauge and labels) a configuration may name, and exit.
    Catalogue,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Start of the range (RFC 3339), on a bucket boundary.
    #[arg(long, value_name = "TIME")]
    from: jiff::Timestamp,
    /// End of the range, exclusive (RFC 3339), on a bucket boundary.
    #[arg(long, value_name = "TIME")]
    to: jiff::Timestamp,
    #[command(flatten)]
    query: QueryArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Write here instead of standard output; nothing is left here on failure.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Use the asynchronous job API for every request.
    #[arg(long = "async")]
    always_async: bool,
    /// The org to report on, by its [[orgs]] name; needed when the configuration has
    /// several.
    #[arg(long, value_name = "NAME")]
    org: Option<String>,
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Report from the built-in simulator instead of a Genesys Cloud org.
    #[arg(long)]
    demo: bool,
}

/// The report's query: a configured one or the defaults, with these flags overriding it.
#[derive(Args)]
struct QueryArgs {
    /// Start from this configured query's settings instead of the defaults.
    #[arg(long = "query", value_name = "NAME")]
    name: Option<String>,
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
}

/// `--format`: the command line's names for [`report::Format`], which knows nothing of
/// clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Json,
    Csv,
    Table,
}

impl From<OutputFormat> for report::Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Json => report::Format::Json,
            OutputFormat::Csv => report::Format::Csv,
            OutputFormat::Table => report::Format::Table,
        }
    }
}

#[derive(Args)]
pub struct SimulateArgs {
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
    /// Serve the org called NAME: the same queue names, but queue IDs and traffic of its
    /// own, drawn from the name (default: the demo org). For several orgs, run one
    /// `simulate` per org, each with its own --listen, --client-id and --client-secret.
    #[arg(long, value_name = "NAME")]
    org: Option<String>,
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
    /// An abandon surge on one queue: QUEUE[@TIME][,abandon=P][,wait_factor=F][,volume=V],
    /// the queue by ID or name, TIME in RFC 3339 or +DURATION from the start (default: at
    /// once), abandon default 0.5, wait_factor default 10, volume default 1; e.g.
    /// Sales@2026-08-20T14:10:00Z or Sales@+10m. From then on its agents all go off queue,
    /// its callers give up with that probability, wait that many times longer and come that
    /// many times as often. Changed while it runs with POST or DELETE /simulator/surge.
    #[arg(long, value_name = "SURGE")]
    surge: Option<SurgeSpec>,
}

impl SimulateArgs {
    /// The org to serve: the one `--org` names, or the demo org.
    fn sim_org(&self) -> Org {
        let media_types = self.media_types.clone();
        match &self.org {
            Some(name) => Org::named(name, self.queues, media_types),
            None => Org::with_queues(self.queues, media_types),
        }
    }
}

/// The exporter: serves `/metrics` until `shutdown` is cancelled, or with
/// `--check-config` only checks the configuration.
pub async fn run(args: RunArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = args.config.clone();
    let mut config = off_the_runtime(&shutdown, move || Config::load(path.as_deref())).await?;
    let clock = match args.demo_time {
        Some(start) => Clock::starting_at(start),
        None => Clock::System,
    };
    let demo_orgs: Vec<OrgConfig> = args
        .demo_orgs
        .iter()
        .map(|name| OrgConfig {
            name: name.clone(),
            ..OrgConfig::default()
        })
        .collect();
    let mut demo = Vec::new();
    if args.demo {
        if !demo_orgs.is_empty() {
            config.orgs = demo_orgs.clone();
        }
        let surge = args.demo_surge.map(|spec| spec.starting(clock.now()));
        let simulator = SimulatorConfig {
            org: Org::with_queues(args.demo_queues, args.demo_media_types.clone()),
            faults: args.fault,
            clock: clock.clone(),
            surge,
            ..SimulatorConfig::default()
        };
        let size = (args.demo_queues, args.demo_media_types);
        demo = start_demo(&mut config, simulator, size, &shutdown).await?;
    }
    // What the command line (and the demo's simulators) put over the file, at start-up and
    // at every reload alike.
    let overrides = Overrides {
        listen: args.listen,
        web_config_file: args.web_config_file,
        demo_orgs,
        demo,
    };
    overrides.apply(&mut config);
    let settings = off_the_runtime(&shutdown, move || config.validate()).await?;
    if args.check_config {
        for org in &settings.orgs {
            let names: Vec<&str> = org.queries.iter().map(|q| q.name.as_str()).collect();
            let whose = org
                .org
                .name()
                .map(|name| format!("org {name}: "))
                .unwrap_or_default();
            eprintln!(
                "configuration is valid: {whose}{} queries ({})",
                names.len(),
                names.join(", ")
            );
        }
        return Ok(());
    }
    let listener = TcpListener::bind(settings.listen).await.map_err(|error| {
        anyhow::anyhow!(
            "cannot listen on {}: {error}; choose another address with --listen or `listen`",
            settings.listen
        )
    })?;
    // Listened for before the exporter says it serves, so that a SIGHUP from then on
    // reloads rather than ends the process (the signal's default action).
    let (sender, requests) = tokio::sync::mpsc::channel(4);
    tokio::spawn(reload_on_hangup(
        hangups(),
        sender.clone(),
        shutdown.clone(),
    ));
    let web_config = settings
        .web
        .as_ref()
        .map(|web| web.path().display().to_string());
    tracing::info!(
        address = %listener.local_addr()?,
        orgs = settings.orgs.len(),
        queries = settings.orgs.iter().map(|o| o.queries.len()).sum::<usize>(),
        web_config = web_config.as_deref().unwrap_or("none"),
        "serving /metrics"
    );
    let path = args.config.clone();
    let load: crate::exporter::Loader = Arc::new(move || {
        let mut config = Config::load(path.as_deref())?;
        overrides.apply(&mut config);
        config.validate()
    });
    let reloads = crate::exporter::Reloads {
        load,
        requests,
        sender,
        lifecycle: args.web_enable_lifecycle,
    };
    crate::exporter::run_reloading(settings, listener, clock, shutdown, reloads).await?;
    tracing::info!("stopped");
    Ok(())
}

/// What the command line puts over the configuration file.
struct Overrides {
    listen: Option<String>,
    web_config_file: Option<PathBuf>,
    /// `--demo-orgs`: the orgs that replace the file's.
    demo_orgs: Vec<OrgConfig>,
    /// With `--demo`: each simulated org's simulator.
    demo: Vec<DemoClient>,
}

/// A simulator the demo started, and the org it plays (`None`: the one org of a
/// configuration without `[[orgs]]`).
#[derive(Clone)]
struct DemoClient {
    org: Option<String>,
    url: String,
    client_id: String,
    client_secret: secrecy::SecretString,
}

impl DemoClient {
    /// Points the keys of an org (at the top level or in its table) at this simulator.
    fn point(
        &self,
        urls: (&mut Option<String>, &mut Option<String>),
        region: &mut Option<String>,
        client_id: &mut Option<String>,
        secret: (&mut Option<secrecy::SecretString>, &mut Option<PathBuf>),
    ) {
        (*urls.0, *urls.1) = (Some(self.url.clone()), Some(self.url.clone()));
        *region = None;
        *client_id = Some(self.client_id.clone());
        (*secret.0, *secret.1) = (Some(self.client_secret.clone()), None);
    }
}

impl Overrides {
    fn apply(&self, config: &mut Config) {
        if let Some(listen) = &self.listen {
            config.listen = Some(listen.clone());
        }
        if let Some(path) = &self.web_config_file {
            config.web_config_file = Some(path.clone());
        }
        if self.demo.is_empty() {
            return;
        }
        if !self.demo_orgs.is_empty() {
            config.orgs = self.demo_orgs.clone();
        }
        for demo in &self.demo {
            point_at(config, demo);
        }
        if config.queries.is_empty() {
            config.queries = demo_queries();
        }
    }
}

/// Points `demo`'s org in `config` at its simulator: the top-level keys, or its
/// `[[orgs]]` table (one the file no longer has is left out).
fn point_at(config: &mut Config, demo: &DemoClient) {
    match &demo.org {
        None => demo.point(
            (&mut config.api_url, &mut config.login_url),
            &mut config.region,
            &mut config.client_id,
            (&mut config.client_secret, &mut config.client_secret_file),
        ),
        Some(name) => {
            if let Some(org) = config.orgs.iter_mut().find(|o| o.name == *name) {
                demo.point(
                    (&mut org.api_url, &mut org.login_url),
                    &mut org.region,
                    &mut org.client_id,
                    (&mut org.client_secret, &mut org.client_secret_file),
                );
            }
        }
    }
}

/// SIGHUP, listened for from now on; `None` where it cannot be.
#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<std::convert::Infallible>;

fn hangups() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let hangups = signal(SignalKind::hangup()).ok();
        if hangups.is_none() {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        }
        hangups
    }
    #[cfg(not(unix))]
    None
}

/// Asks for a reload at each SIGHUP, until `shutdown`; the exporter logs the outcome.
async fn reload_on_hangup(
    hangups: Hangups,
    reloads: tokio::sync::mpsc::Sender<crate::server::ReloadRequest>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    {
        let Some(mut hangups) = hangups else { return };
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => {
                    tracing::info!("SIGHUP received");
                    let (done, _) = tokio::sync::oneshot::channel();
                    if reloads.send(done).await.is_err() {
                        return;
                    }
                }
                () = shutdown.cancelled() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (hangups, reloads, shutdown);
    }
}

/// Runs `work`, which reads files (the configuration, the secret), on tokio's blocking
/// pool, so that a slow file system never stalls the runtime, and SIGTERM still ends the
/// process while it waits.
async fn off_the_runtime<T: Send + 'static>(
    shutdown: &CancellationToken,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::select! {
        done = tokio::task::spawn_blocking(work) => Ok(done??),
        () = shutdown.cancelled() => anyhow::bail!("interrupted while reading the configuration"),
    }
}

/// The queries of `--demo` when the configuration names none: the default bucket query,
/// and `live`, a rolling window of the last five minutes read every minute, for live
/// abandon rates and service levels. Five, not ten: the live abandon alert must fire
/// within six minutes of a jump, and a ten-minute window dilutes a jump too long (see the
/// arithmetic in deploy/prometheus/alerts.rules.yml).
pub fn demo_queries() -> Vec<QueryConfig> {
    let live = QueryConfig {
        name: "live".into(),
        window: Some(Duration::from_secs(300)),
        refresh: Some(Duration::from_secs(60)),
        group_by: Some(vec!["queueId".into(), "mediaType".into()]),
        metrics: Some(
            [
                "nOffered",
                "tAbandon",
                "tAnswered",
                "tWait",
                "nOverSla",
                "oServiceLevel",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..QueryConfig::default()
    };
    let default = QueryConfig {
        name: "default".into(),
        ..QueryConfig::default()
    };
    vec![default, live]
}

/// Starts a simulator in this process for each org of `config` (one for a configuration
/// without `[[orgs]]`), configured as `simulator` says, with the org's own data of `size`
/// (queues and media types) and its own credentials, and points the org at it.
async fn start_demo(
    config: &mut Config,
    simulator: SimulatorConfig,
    size: (usize, Vec<String>),
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<DemoClient>> {
    if let Some(surge) = &simulator.surge {
        surge.check(&simulator.org).map_err(Error::Config)?;
        tracing::info!(queue = %surge.queue, start = %surge.start, abandon = surge.abandon, "demo mode: an abandon surge is set");
    }
    let orgs: Vec<Option<String>> = if config.orgs.is_empty() {
        vec![None]
    } else {
        config.orgs.iter().map(|o| Some(o.name.clone())).collect()
    };
    let mut started = Vec::new();
    for org in orgs {
        let mut simulator = simulator.clone();
        if let Some(name) = &org {
            simulator.org = Org::named(name, size.0, size.1.clone());
            simulator.client_id = format!("demo-client-{name}");
            simulator.client_secret = format!("demo-secret-{name}").into();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tracing::info!(%url, org = org.as_deref(), "demo mode: serving the simulated Genesys Cloud API");
        let demo = DemoClient {
            org,
            url,
            client_id: simulator.client_id.clone(),
            client_secret: simulator.client_secret.clone(),
        };
        point_at(config, &demo);
        started.push(demo);
        let simulator = Simulator::new(simulator);
        let stop = shutdown.clone();
        tokio::spawn(async move { simulator.serve(listener, stop).await });
    }
    Ok(started)
}

/// The one-shot report: fetches the range and writes it to `--output` or standard output.
pub async fn report(args: ReportArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = args.config.clone();
    let mut config = off_the_runtime(&shutdown, move || Config::load(path.as_deref())).await?;
    if args.demo {
        let size = (6, DEMO_MEDIA_TYPES.map(String::from).to_vec());
        start_demo(&mut config, SimulatorConfig::default(), size, &shutdown).await?;
    }
    // Only the chosen org is checked: a report needs no other org's secret.
    let org = chosen_org(&config, args.org.as_deref())?;
    config.queries = vec![args.query.apply_to(&config, org.as_ref())?];
    if let Some(mut org) = org {
        org.queries.clear();
        config.orgs = vec![org];
    }
    let settings = off_the_runtime(&shutdown, move || config.validate()).await?;
    let org = &settings.orgs[0];
    let request = report::Request {
        query: org.queries[0].clone(),
        from: args.from,
        to: args.to,
        job_policy: if args.always_async {
            JobPolicy::Always
        } else {
            JobPolicy::WhenTooLarge
        },
    };
    let client = Client::new(&org.client, Arc::new(Metrics::new([])))?;
    let table = tokio::select! {
        table = report::fetch(&client, &settings, &request, progress_bar()) => table?,
        () = shutdown.cancelled() => anyhow::bail!("interrupted; nothing written"),
    };
    let format = args.format.into();
    match &args.output {
        Some(path) => report::write_file(&table, format, path)
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            table.write(format, &mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// The `[[orgs]]` table `--org` names, or the only one; `None` for a configuration
/// without orgs.
fn chosen_org(config: &Config, name: Option<&str>) -> Result<Option<OrgConfig>, Error> {
    let names: Vec<&str> = config.orgs.iter().map(|o| o.name.as_str()).collect();
    let chosen = match (name, config.orgs.as_slice()) {
        (None, []) => None,
        (Some(name), []) => {
            return Err(Error::Config(format!(
                "--org {name}: the configuration has no [[orgs]]; leave --org out"
            )));
        }
        (None, [only]) => Some(only),
        (None, _) => {
            return Err(Error::Config(format!(
                "the configuration has several orgs; choose one with --org ({})",
                names.join(", ")
            )));
        }
        (Some(name), orgs) => Some(orgs.iter().find(|o| o.name == name).ok_or_else(|| {
            Error::Config(format!(
                "--org {name}: no [[orgs]] table has that name; use one of {}",
                names.join(", ")
            ))
        })?),
    };
    Ok(chosen.cloned())
}

impl QueryArgs {
    /// The query named by `--query` among the shared queries of `config` and those of
    /// `org` (or the defaults), with the flags given in its place.
    fn apply_to(self, config: &Config, org: Option<&OrgConfig>) -> Result<QueryConfig, Error> {
        let own = org.map(|org| org.queries.as_slice()).unwrap_or_default();
        let mut query = match &self.name {
            Some(name) => config
                .queries
                .iter()
                .chain(own)
                .find(|q| &q.name == name)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = config
                        .queries
                        .iter()
                        .chain(own)
                        .map(|q| q.name.as_str())
                        .collect();
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
        if query.window.is_some() || query.refresh.is_some() {
            // A rolling window is a moving figure, not a series of buckets: the report
            // reads its metrics in the buckets --granularity gives.
            if self.granularity.is_none() {
                return Err(Error::Config(format!(
                    "--query {}: a rolling window (window and refresh) has no buckets to report; add --granularity, such as PT15M, to report its metrics in buckets of that length",
                    query.name
                )));
            }
            (query.window, query.refresh, query.max_age) = (None, None, None);
        }
        query.granularity = self.granularity.or(query.granularity);
        query.group_by = self.group_by.or(query.group_by);
        query.metrics = self.metrics.or(query.metrics);
        query.time_zone = self.time_zone.or(query.time_zone);
        if let Some(filter) = &self.filter {
            let parsed = serde_json::from_str(filter)
                .map_err(|error| Error::Config(format!("--filter: not JSON: {error}")))?;
            query.filter = Some(parsed);
        }
        // A report is not a set of Prometheus series: any dimension may be a column.
        query.allow_unbounded_labels = true;
        Ok(query)
    }
}

/// A progress bar on stderr for reports of more than one request or job page, drawn only
/// when stderr is a terminal.
fn progress_bar() -> impl FnMut(usize, usize, usize) {
    let bar = indicatif::ProgressBar::hidden();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} requests {msg}")
            .expect("the template is valid"),
    );
    let mut shown = false;
    move |done, total, pages| {
        if !shown && (total > 1 || pages > 1) {
            // Draws nothing when stderr is not a terminal.
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
            shown = true;
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if pages > 0 {
            bar.set_message(format!("({pages} job pages)"));
        }
        if done == total {
            bar.finish_and_clear();
        }
    }
}

/// `catalogue`: every name a configuration may use, and what each becomes.
pub fn catalogue() -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(crate::exposition::catalogue().as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// `simulate`: serves the fake Genesys Cloud API until `shutdown` is cancelled.
pub async fn simulate(args: SimulateArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        org: args.sim_org(),
        client_id: args.client_id,
        client_secret: args.client_secret.into(),
        token_lifetime: Duration::from_secs(args.token_lifetime),
        sync_result_limit: args.sync_result_limit,
        job_page_size: args.job_page_size,
        faults: args.fault,
        surge: args.surge.map(|spec| spec.starting(jiff::Timestamp::now())),
        ..SimulatorConfig::default()
    };
    if let Some(surge) = &config.surge {
        surge.check(&config.org).map_err(Error::Config)?;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "simulated Genesys Cloud API listening");
    Simulator::new(config).serve(listener, shutdown).await;
    Ok(())
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
pub async fn cancel_on_signal(shutdown: CancellationToken) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The report arguments of `genesys-exporter report --from .. --to .. FLAGS`.
    fn report_args(flags: &[&str]) -> ReportArgs {
        let fixed = [
            "genesys-exporter",
            "report",
            "--from",
            "2026-08-20T12:00:00Z",
        ];
        let to = ["--to", "2026-08-20T13:00:00Z"];
        let cli = Cli::try_parse_from(fixed.iter().chain(&to).chain(flags)).unwrap();
        match cli.command {
            Some(Command::Report(args)) => args,
            _ => unreachable!("parsed as report"),
        }
    }

    fn configured(queries: &[&str]) -> Config {
        Config {
            queries: queries
                .iter()
                .map(|name| QueryConfig {
                    name: name.to_string(),
                    granularity: Some("P1D".into()),
                    metrics: Some(vec!["nOffered".into()]),
                    ..QueryConfig::default()
                })
                .collect(),
            ..Config::default()
        }
    }

    #[test]
    fn a_report_starts_from_the_defaults_and_may_group_by_anything() {
        let query = report_args(&["--group-by", "conversationId"])
            .query
            .apply_to(&configured(&["daily"]), None)
            .unwrap();
        assert_eq!(query.name, "report");
        assert_eq!(query.granularity, None);
        assert_eq!(query.group_by, Some(vec!["conversationId".into()]));
        assert!(query.allow_unbounded_labels);
    }

    #[test]
    fn flags_override_the_named_query_and_keep_the_rest() {
        let args = report_args(&[
            "--query",
            "daily",
            "--granularity",
            "PT1H",
            "--filter",
            r#"{"type": "or"}"#,
            "--time-zone",
            "Europe/Dublin",
            "--format",
            "csv",
            "--async",
        ]);
        assert_eq!(args.format, OutputFormat::Csv);
        assert!(args.always_async);
        let query = args.query.apply_to(&configured(&["daily"]), None).unwrap();
        assert_eq!(query.name, "daily");
        assert_eq!(query.granularity.as_deref(), Some("PT1H"));
        assert_eq!(query.metrics, Some(vec!["nOffered".into()]));
        assert_eq!(query.filter, Some(serde_json::json!({"type": "or"})));
        assert_eq!(query.time_zone.as_deref(), Some("Europe/Dublin"));
    }

    #[test]
    fn an_unknown_query_and_a_filter_that_is_not_json_are_configuration_errors() {
        let error = report_args(&["--query", "weekly"])
            .query
            .apply_to(&configured(&["daily", "queues"]), None)
            .unwrap_err();
        assert!(matches!(error, Error::Config(_)));
        assert!(
            error.to_string().contains(
                "--query weekly: no such query in the configuration (it has: daily, queues)"
            ),
            "{error}"
        );
        let error = report_args(&["--filter", "{x"])
            .query
            .apply_to(&Config::default(), None)
            .unwrap_err();
        assert!(error.to_string().contains("--filter: not JSON"), "{error}");
    }

    #[test]
    fn a_surge_is_a_demo_or_simulate_flag() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "--demo",
            "--demo-surge",
            "Sales@2026-08-20T14:10:00Z,abandon=0.6",
        ])
        .unwrap();
        let surge = cli
            .run
            .demo_surge
            .unwrap()
            .starting(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(surge.start.to_string(), "2026-08-20T14:10:00Z");
        assert_eq!((surge.queue.as_str(), surge.abandon), ("Sales", 0.6));
        let error = Cli::try_parse_from(["genesys-exporter", "--demo-surge", "Sales"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--demo"), "{error}");
        let error =
            Cli::try_parse_from(["genesys-exporter", "--demo", "--demo-surge", "Sales@noon"])
                .err()
                .unwrap();
        assert!(
            error.to_string().contains("not an RFC 3339 time"),
            "{error}"
        );
        let cli =
            Cli::try_parse_from(["genesys-exporter", "simulate", "--surge", "VIP@+10m"]).unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            unreachable!("parsed as simulate")
        };
        assert_eq!(args.surge.unwrap().queue, "VIP");
    }

    #[test]
    fn simulate_serves_the_org_it_is_given_or_the_demo_org() {
        let args = |flags: &[&str]| {
            let cli =
                Cli::try_parse_from(["genesys-exporter", "simulate"].iter().chain(flags)).unwrap();
            let Some(Command::Simulate(args)) = cli.command else {
                unreachable!("parsed as simulate")
            };
            args
        };
        assert_eq!(args(&[]).sim_org(), Org::demo());
        let east = args(&["--org", "east", "--queues", "8", "--media-types", "voice"]);
        assert_eq!(east.sim_org(), Org::named("east", 8, vec!["voice".into()]));
        assert_eq!(east.sim_org().name.as_deref(), Some("east"));
    }

    #[test]
    fn a_rolling_query_is_reported_in_the_buckets_granularity_names_or_refused() {
        let mut config = configured(&["live"]);
        let live = &mut config.queries[0];
        live.granularity = None;
        live.window = Some(Duration::from_secs(600));
        live.refresh = Some(Duration::from_secs(60));
        live.max_age = Some(Duration::from_secs(180));
        let error = report_args(&["--query", "live"])
            .query
            .apply_to(&config, None)
            .unwrap_err();
        assert!(matches!(error, Error::Config(_)));
        assert!(
            error.to_string().contains(
                "--query live: a rolling window (window and refresh) has no buckets to report; add --granularity, such as PT15M"
            ),
            "{error}"
        );
        let query = report_args(&["--query", "live", "--granularity", "PT10M"])
            .query
            .apply_to(&config, None)
            .unwrap();
        assert_eq!(query.granularity.as_deref(), Some("PT10M"));
        assert_eq!(
            (query.window, query.refresh, query.max_age),
            (None, None, None)
        );
        assert_eq!(query.metrics, Some(vec!["nOffered".into()]));
    }

    #[test]
    fn the_demo_reads_the_default_buckets_and_a_live_rolling_window() {
        let config = Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            queries: demo_queries(),
            ..Config::default()
        };
        let settings = config.validate().unwrap();
        let kinds: Vec<(&str, String)> = settings.orgs[0]
            .queries
            .iter()
            .map(|q| (q.name.as_str(), q.kind.to_string()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("default", "PT15M buckets".to_string()),
                ("live", "5m window, every 1m".to_string())
            ]
        );
        let live = &settings.orgs[0].queries[1];
        assert_eq!(live.group_by, ["queueId", "mediaType"]);
        assert_eq!(
            live.metrics,
            [
                "nOffered",
                "tAbandon",
                "tAnswered",
                "tWait",
                "nOverSla",
                "oServiceLevel"
            ]
        );
    }

    #[test]
    fn the_listen_help_names_the_default_address() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_help()
            .to_string();
        assert!(
            help.contains(&format!("default {DEFAULT_LISTEN})")),
            "{help}"
        );
    }
}
