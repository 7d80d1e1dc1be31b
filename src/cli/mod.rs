//! The command line: its commands and flags, and the wiring from them to the library.
//! The exporter (with `--demo`, the simulator started in this process), the one-shot
//! report (a configured query overridden by flags, with a progress bar) and the simulator
//! on its own; the binary only parses, dispatches and maps errors to exit codes.
//! `demo.rs` starts the demo's simulators and points the configuration at them;
//! `report.rs` is the report command. The demo and the simulator come with the default
//! cargo feature `demo`: without it, `--demo`, its flags and `simulate` do not exist.

#[cfg(feature = "demo")]
mod demo;
pub mod logging;
mod report;
mod shard;

use std::io::Write;
#[cfg(feature = "demo")]
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
#[cfg(feature = "demo")]
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[cfg(feature = "demo")]
use crate::config::OrgConfig;
use crate::config::{Config, DEFAULT_LISTEN, written};
use crate::error::Error;
use crate::server::TelemetryPath;
#[cfg(feature = "demo")]
pub use demo::{
    DEMO_VOICE_QUALITY_REFRESH, demo_agents, demo_flow_observations, demo_ivr_queries, demo_org,
    demo_queries,
};
#[cfg(feature = "demo")]
use demo::{DemoClient, fill_in, point_at, start_demo};
#[cfg(feature = "demo")]
use genesys_sim::{
    AgentsSurgeSpec, DEMO_FLOOR, FailureSurgeSpec, FaultSpec, SimulatedOrg, Simulator,
    SimulatorConfig, SurgeSpec,
};
use genesys_wire::time::Clock;
use logging::{LogFormat, LogLevel};
pub use report::{ReportArgs, report};

/// Prometheus exporter for Genesys Cloud conversation aggregates.
#[derive(Parser)]
#[command(about, disable_version_flag = true)]
pub struct Cli {
    /// Print the version, git revision, Rust version and platform, and exit.
    #[arg(long, short = 'V')]
    pub version: bool,
    /// Only log messages of this level or more severe. RUST_LOG, when set, overrides it for
    /// what it names (e.g. RUST_LOG=genesys_exporter::genesys=debug).
    #[arg(long = "log.level", value_name = "LEVEL", value_enum, default_value_t = LogLevel::Info, global = true)]
    pub log_level: LogLevel,
    /// Output format of log messages: logfmt (key=value) or json (one object per line).
    #[arg(long = "log.format", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Logfmt, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct RunArgs {
    /// TOML configuration file; environment variables override it.
    #[arg(
        long = "config.file",
        visible_alias = "config",
        short,
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    // The help names DEFAULT_LISTEN rather than repeating it; no `default_value`, which
    // would override the `listen` key of the file and the environment.
    #[arg(
        long = "web.listen-address",
        visible_alias = "listen",
        value_name = "ADDR",
        help = format!("Address to serve the metrics on, such as :9871 or 127.0.0.1:9871 (overrides `listen`; default {DEFAULT_LISTEN})")
    )]
    listen: Option<String>,
    /// Path under which to serve the metrics (the landing page links to it).
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value_t = TelemetryPath::default(),
        value_parser = TelemetryPath::parse
    )]
    telemetry_path: TelemetryPath,
    /// A Prometheus exporter-toolkit web config file (TLS, basic auth, headers) to secure
    /// /metrics with; overrides `web_config_file`.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// Let `POST /-/reload` reload the configuration, as Prometheus's flag of the same
    /// name does (SIGHUP always reloads it).
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
    #[cfg(feature = "demo")]
    /// Run against the built-in simulator instead of a Genesys Cloud org.
    #[arg(long)]
    demo: bool,
    #[cfg(feature = "demo")]
    /// With --demo: show the simulated org from this time (RFC 3339) on instead of now,
    /// for a reproducible demo, e.g. 2026-08-20T14:07:00Z, a weekday afternoon. The data
    /// asked for and observed moves; the timestamps Prometheus compares with its own
    /// clock (genesys_last_success_timestamp_seconds) stay on the real clock. Without
    /// --demo, for simulators on this machine only (`simulate --time`, the same instant).
    #[arg(long, value_name = "TIME")]
    demo_time: Option<jiff::Timestamp>,
    #[cfg(feature = "demo")]
    /// With --demo: the number of simulated queues (the first six are the named demo
    /// queues), to size the demo, e.g. for a load test.
    #[arg(long, value_name = "N", requires = "demo", default_value_t = 6)]
    demo_queues: usize,
    #[cfg(feature = "demo")]
    /// With --demo: the media types each simulated queue handles.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "demo",
        default_value = "voice,chat,email,callback"
    )]
    demo_media_types: Vec<String>,
    /// Check the configuration, print a summary and exit (0 if it is valid); with more
    /// than one shard, which shard runs each org.
    #[arg(long)]
    check_config: bool,
    /// Run only the orgs of this shard: those whose [[orgs]] name hashes (FNV-1a 64,
    /// modulo --total-shards) to N (overrides `shard`; default 0).
    #[arg(long, value_name = "N", conflicts_with = "shard_from_hostname")]
    shard: Option<u32>,
    /// How many processes share the orgs, each with its own --shard (overrides
    /// `total_shards`; default 1: this process runs every org).
    #[arg(long, value_name = "M")]
    total_shards: Option<u32>,
    /// Take --shard from the number after the last '-' of the host name, as a
    /// StatefulSet's pods are named (genesys-exporter-2 runs shard 2).
    #[arg(long)]
    shard_from_hostname: bool,
    #[cfg(feature = "demo")]
    /// With --demo: a fault for the simulator to play, as for `simulate --fault`.
    #[arg(long, value_name = "FAULT", requires = "demo")]
    fault: Vec<FaultSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: an abandon surge for the simulator to play, as for `simulate --surge`,
    /// e.g. Sales@2026-08-20T14:10:00Z.
    #[arg(long, value_name = "SURGE", requires = "demo")]
    demo_surge: Option<SurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: a flow whose outcomes start failing, FLOW[@TIME], e.g. 'Main IVR@+10m'.
    #[arg(long, value_name = "FLOW", requires = "demo")]
    demo_flow_surge: Option<FailureSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: a data action that starts timing out, ACTION[@TIME], e.g. 'Lookup account'.
    #[arg(long, value_name = "ACTION", requires = "demo")]
    demo_action_surge: Option<FailureSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: the agents of this queue stop answering (every one on queue goes
    /// NOT_RESPONDING), as for `simulate --agents-surge`: QUEUE[@TIME], e.g. Support or
    /// Support@+10m.
    #[arg(long, value_name = "QUEUE", requires = "demo")]
    demo_agents_surge: Option<AgentsSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: an Edge whose calls turn poor, as for `simulate --edge-degrade`:
    /// EDGE[@TIME], e.g. 'Edge HQ 1@+10m'.
    #[arg(long, value_name = "EDGE", requires = "demo")]
    demo_edge_degrade: Option<FailureSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: an Edge that goes offline, EDGE[@TIME] (by name or ID), e.g.
    /// 'Edge HQ 2@+10m', as for `simulate --edge-offline`.
    #[arg(long, value_name = "EDGE", requires = "demo")]
    demo_edge_offline: Option<FailureSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: a trunk that goes down, TRUNK[@TIME] (by name or ID), e.g.
    /// 'Carrier A - Edge HQ 1@+10m', as for `simulate --trunk-down`.
    #[arg(long, value_name = "TRUNK", requires = "demo")]
    demo_trunk_down: Option<FailureSurgeSpec>,
    #[cfg(feature = "demo")]
    /// With --demo: simulate several orgs of these names, e.g. east,west, each on a
    /// simulator of its own with its own credentials and data, as [[orgs]] tables that
    /// replace any in the file.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', requires = "demo")]
    demo_orgs: Vec<String>,
}

// Without `simulate`, the report's arguments are the one large variant; parsed once.
#[cfg_attr(not(feature = "demo"), allow(clippy::large_enum_variant))]
#[derive(Subcommand)]
pub enum Command {
    /// Serve the fake Genesys Cloud API: every endpoint the exporter calls, and the
    /// simulator's controls (listed under --help).
    #[cfg(feature = "demo")]
    #[command(after_help = genesys_sim::endpoints_help())]
    Simulate(SimulateArgs),
    /// Write aggregates for a range of intervals as JSON, CSV or a table, and exit.
    Report(ReportArgs),
    /// Print every metric (its kind and gauges), groupBy dimension (its label) and queue
    /// observation metric (its gauge and labels) a configuration may name, and exit.
    Catalogue,
}

#[cfg(feature = "demo")]
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
    /// Keep every queue's traffic at the demo's floor of its peak or more, and Retention's
    /// standing backlog, as `--demo` does: the demo org's data, served out of process.
    #[arg(long)]
    demo_floor: bool,
    /// Show the org from this time (RFC 3339) on instead of now, as the exporter's
    /// --demo-time does (give both the same instant for the same data), e.g.
    /// 2026-08-20T14:07:00Z, a weekday afternoon.
    #[arg(long, value_name = "TIME")]
    time: Option<jiff::Timestamp>,
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
    /// once), abandon default 0.8, wait_factor default 10, volume default 2; e.g.
    /// Sales@2026-08-20T14:10:00Z or Sales@+10m. From then on its agents all go off queue,
    /// its callers give up with that probability, wait that many times longer and come that
    /// many times as often. Changed while it runs with POST or DELETE /simulator/surge.
    #[arg(long, value_name = "SURGE")]
    surge: Option<SurgeSpec>,
    /// The agents of one queue stop answering: QUEUE[@TIME], the queue by ID or name, TIME
    /// as for --surge (default: at once). From then on every agent of it on queue is
    /// NOT_RESPONDING, in the queue observations and the agent-state counts.
    #[arg(long, value_name = "QUEUE")]
    agents_surge: Option<AgentsSurgeSpec>,
    /// An Edge whose calls turn poor: EDGE[@TIME], the Edge by ID or name (Edge HQ 1,
    /// Edge HQ 2, Cloud Media 1), TIME as for --surge (default: at once). Every call on it
    /// that ends from then on has a MOS below 3, in the conversation details.
    #[arg(long, value_name = "EDGE")]
    edge_degrade: Option<FailureSurgeSpec>,
    /// An Edge that goes offline: EDGE[@TIME], the Edge by ID or name, TIME as for
    /// --surge. From then on it is OFFLINE, its trunks neither enabled nor connected, and
    /// it is left out of the Edge metrics.
    #[arg(long, value_name = "EDGE")]
    edge_offline: Option<FailureSurgeSpec>,
    /// A trunk that goes down: TRUNK[@TIME], the trunk by ID or name, TIME as for --surge.
    /// From then on it is not connected and its OPTIONS pings fail.
    #[arg(long, value_name = "TRUNK")]
    trunk_down: Option<FailureSurgeSpec>,
}

#[cfg(feature = "demo")]
impl SimulateArgs {
    /// The org to serve: the one `--org` names, or the demo org.
    fn sim_org(&self) -> SimulatedOrg {
        let media_types = self.media_types.clone();
        let org = match &self.org {
            Some(name) => SimulatedOrg::named(name, self.queues, media_types),
            None => SimulatedOrg::with_queues(self.queues, media_types),
        };
        if self.demo_floor {
            org.with_floor(DEMO_FLOOR)
        } else {
            org
        }
    }

    /// The simulator's clock: shifted to `--time`, or the system's.
    fn clock(&self) -> Clock {
        self.time.map_or(Clock::System, Clock::shifted_to)
    }
}

impl RunArgs {
    /// Refuses the shard flags given with a subcommand (`genesys-exporter --shard 1
    /// report ...`), which would otherwise take them and ignore them: they choose the orgs
    /// the exporter runs, and no subcommand runs the exporter.
    pub fn refuse_shard_flags(&self) -> Result<(), Error> {
        if self.shard.is_none() && self.total_shards.is_none() && !self.shard_from_hostname {
            return Ok(());
        }
        Err(Error::Config(
            "--shard, --total-shards and --shard-from-hostname choose the orgs the exporter runs, and no subcommand runs it: leave them out (a report is of the one org --org names, whichever shard runs it)".into(),
        ))
    }
}

/// The exporter: serves `/metrics` until `shutdown` is cancelled, or with
/// `--check-config` only checks the configuration.
pub async fn run(args: RunArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = args.config.clone();
    let mut config = off_the_runtime(&shutdown, move || Config::load(path.as_deref())).await?;
    // What the command line (and the demo's simulators, added below) put over the file, at
    // start-up and at every reload alike.
    let shard = match args.shard_from_hostname {
        true => Some(shard::from_host_name()?),
        false => args.shard,
    };
    #[cfg_attr(not(feature = "demo"), allow(unused_mut))]
    let mut overrides = Overrides {
        listen: args.listen,
        web_config_file: args.web_config_file,
        shard,
        total_shards: args.total_shards,
        #[cfg(feature = "demo")]
        demo_orgs: Vec::new(),
        #[cfg(feature = "demo")]
        demo: Vec::new(),
    };
    #[cfg(not(feature = "demo"))]
    let clock = Clock::System;
    #[cfg(feature = "demo")]
    let clock = {
        let clock = match args.demo_time {
            // Shifts the data asked for and observed, not the timestamps Prometheus
            // compares with its own clock (`Clock::wall`).
            Some(start) => Clock::shifted_to(start),
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
            let agents_surge = args
                .demo_agents_surge
                .map(|spec| spec.starting(clock.now()));
            let simulator = SimulatorConfig {
                org: demo_org(args.demo_queues, args.demo_media_types.clone()),
                faults: args.fault,
                clock: clock.clone(),
                surge,
                flow_surge: args.demo_flow_surge.map(|spec| spec.starting(clock.now())),
                action_surge: args
                    .demo_action_surge
                    .map(|spec| spec.starting(clock.now())),
                agents_surge,
                edge_degrade: args
                    .demo_edge_degrade
                    .map(|spec| spec.starting(clock.now())),
                edge_offline: args
                    .demo_edge_offline
                    .map(|spec| spec.starting(clock.now())),
                trunk_down: args.demo_trunk_down.map(|spec| spec.starting(clock.now())),
                ..SimulatorConfig::default()
            };
            let size = (args.demo_queues, args.demo_media_types);
            // A simulator only for the orgs of this process's shard. An invalid shard
            // starts them all, and the check below refuses it by name.
            overrides.apply(&mut config);
            let shard = config.shard().unwrap_or_default();
            demo = start_demo(&mut config, simulator, size, shard, &shutdown).await?;
        }
        (overrides.demo_orgs, overrides.demo) = (demo_orgs, demo);
        clock
    };
    // `--demo-time` without `--demo`: the clock shifted to meet simulators run apart.
    #[cfg(feature = "demo")]
    let local_only = args.demo_time.is_some() && !args.demo;
    let validate = move |config: Config| {
        let settings = config.validate()?;
        #[cfg(feature = "demo")]
        if local_only {
            demo::local_simulators_only(&settings)?;
        }
        Ok(settings)
    };
    overrides.apply(&mut config);
    let settings = off_the_runtime(&shutdown, move || validate(config)).await?;
    if args.check_config {
        for org in &settings.orgs {
            let names: Vec<&str> = org.queries.iter().map(|q| q.name.as_str()).collect();
            let whose = org
                .org
                .name()
                .map(|name| format!("org {name}: "))
                .unwrap_or_default();
            // Not eprintln!, which panics when stderr is closed.
            let _ = writeln!(
                std::io::stderr(),
                "configuration is valid: {whose}{} queries ({})",
                names.len(),
                names.join(", ")
            );
        }
        if settings.shard.total > 1 {
            shard::print(&settings);
        }
        if let Some(refresh) = settings.telephony {
            let _ = writeln!(
                std::io::stderr(),
                "telephony: the Edges and trunks every {} (needs {})",
                crate::config::written(refresh),
                genesys_wire::Endpoint::Edges.permission()
            );
        }
        if let Some(voice) = &settings.voice_quality {
            let _ = writeln!(
                std::io::stderr(),
                "voice quality: the calls that ended, every {} ({} behind), up to {} pages of {} a refresh; poor below MOS {}",
                written(voice.refresh),
                written(voice.settle_delay),
                voice.max_pages_per_refresh,
                voice.page_size,
                voice.mos_threshold
            );
        }
        return Ok(());
    }
    let listener = TcpListener::bind(settings.listen).await.map_err(|error| {
        anyhow::anyhow!(
            "cannot listen on {}: {error}; choose another address with --web.listen-address or `listen`",
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
    // This shard's orgs: the runtime starts no other.
    let runs: Vec<_> = settings
        .orgs
        .iter()
        .filter(|o| settings.shard.runs(&o.org))
        .collect();
    tracing::info!(
        address = %listener.local_addr()?,
        shard = %settings.shard,
        orgs = runs.len(),
        queries = runs.iter().map(|o| o.queries.len()).sum::<usize>(),
        web_config = web_config.as_deref().unwrap_or("none"),
        path = args.telemetry_path.as_str(),
        "serving /metrics"
    );
    let path = args.config.clone();
    let load: crate::runtime::Loader = Arc::new(move || {
        let mut config = Config::load(path.as_deref())?;
        overrides.apply(&mut config);
        validate(config)
    });
    let reloads = crate::runtime::Reloads {
        load,
        requests,
        sender,
        lifecycle: args.web_enable_lifecycle,
        telemetry_path: args.telemetry_path,
    };
    crate::runtime::run_reloading(settings, listener, clock, shutdown, reloads).await?;
    tracing::info!("stopped");
    Ok(())
}

/// What the command line puts over the configuration file.
struct Overrides {
    listen: Option<String>,
    web_config_file: Option<PathBuf>,
    /// `--shard`, or the host name's ordinal with `--shard-from-hostname`.
    shard: Option<u32>,
    total_shards: Option<u32>,
    /// `--demo-orgs`: the orgs that replace the file's.
    #[cfg(feature = "demo")]
    demo_orgs: Vec<OrgConfig>,
    /// With `--demo`: each simulated org's simulator.
    #[cfg(feature = "demo")]
    demo: Vec<DemoClient>,
}

impl Overrides {
    fn apply(&self, config: &mut Config) {
        if let Some(listen) = &self.listen {
            config.listen = Some(listen.clone());
        }
        if let Some(path) = &self.web_config_file {
            config.web_config_file = Some(path.clone());
        }
        if let Some(shard) = self.shard {
            config.shard = Some(shard);
        }
        if let Some(total) = self.total_shards {
            config.total_shards = Some(total);
        }
        #[cfg(feature = "demo")]
        self.apply_demo(config);
    }

    /// With `--demo`: the orgs it simulates, pointed at their simulators.
    #[cfg(feature = "demo")]
    fn apply_demo(&self, config: &mut Config) {
        if self.demo.is_empty() {
            return;
        }
        if !self.demo_orgs.is_empty() {
            config.orgs = self.demo_orgs.clone();
        }
        for demo in &self.demo {
            point_at(config, demo);
        }
        fill_in(config, &self.demo);
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
pub(super) async fn off_the_runtime<T: Send + 'static>(
    shutdown: &CancellationToken,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::select! {
        done = tokio::task::spawn_blocking(work) => Ok(done??),
        () = shutdown.cancelled() => anyhow::bail!("interrupted while reading the configuration"),
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
#[cfg(feature = "demo")]
pub async fn simulate(args: SimulateArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let clock = args.clock();
    let now = clock.now();
    let config = SimulatorConfig {
        org: args.sim_org(),
        clock,
        client_id: args.client_id,
        client_secret: args.client_secret.into(),
        token_lifetime: Duration::from_secs(args.token_lifetime),
        sync_result_limit: args.sync_result_limit,
        job_page_size: args.job_page_size,
        faults: args.fault,
        surge: args.surge.map(|spec| spec.starting(now)),
        agents_surge: args.agents_surge.map(|spec| spec.starting(now)),
        edge_degrade: args.edge_degrade.map(|spec| spec.starting(now)),
        edge_offline: args.edge_offline.map(|spec| spec.starting(now)),
        trunk_down: args.trunk_down.map(|spec| spec.starting(now)),
        ..SimulatorConfig::default()
    };
    if let Some(degrade) = &config.edge_degrade {
        degrade.check_edge(&config.org).map_err(Error::Config)?;
    }
    if let Some(surge) = &config.surge {
        surge.check(&config.org).map_err(Error::Config)?;
    }
    if let Some(surge) = &config.agents_surge {
        surge.check(&config.org).map_err(Error::Config)?;
    }
    if let Some(fault) = &config.edge_offline {
        fault.check_edge(&config.org).map_err(Error::Config)?;
    }
    if let Some(fault) = &config.trunk_down {
        fault.check_trunk(&config.org).map_err(Error::Config)?;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", args.listen))?;
    // The simulator's own demo credentials, which a client must send: never a real org's.
    tracing::info!(
        address = %listener.local_addr()?,
        client_id = %config.client_id,
        client_secret = %config.client_secret.expose_secret(),
        "simulated Genesys Cloud API listening; it accepts these client credentials"
    );
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

    #[cfg(feature = "demo")]
    #[test]
    fn an_agents_surge_is_a_demo_or_simulate_flag() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "--demo",
            "--demo-agents-surge",
            "Technical Support@2026-08-20T14:10:00Z",
        ])
        .unwrap();
        let surge = cli
            .run
            .demo_agents_surge
            .unwrap()
            .starting(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(surge.queue, "Technical Support");
        assert_eq!(surge.start.to_string(), "2026-08-20T14:10:00Z");
        let error = Cli::try_parse_from(["genesys-exporter", "--demo-agents-surge", "Sales"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--demo"), "{error}");
        let cli =
            Cli::try_parse_from(["genesys-exporter", "simulate", "--agents-surge", "VIP"]).unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            panic!("simulate");
        };
        assert_eq!(args.agents_surge.unwrap().queue, "VIP");
    }

    #[cfg(feature = "demo")]
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

    #[cfg(feature = "demo")]
    #[test]
    fn flow_and_action_surges_are_demo_flags() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "--demo",
            "--demo-flow-surge",
            "Main IVR@2026-08-20T14:10:00Z",
            "--demo-action-surge",
            "Lookup account",
        ])
        .unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        let flow = cli.run.demo_flow_surge.unwrap().starting(now);
        assert_eq!(flow.target, "Main IVR");
        assert_eq!(flow.start.to_string(), "2026-08-20T14:10:00Z");
        let action = cli.run.demo_action_surge.unwrap().starting(now);
        assert_eq!(
            (action.target.as_str(), action.start),
            ("Lookup account", now)
        );
        let error = Cli::try_parse_from(["genesys-exporter", "--demo-flow-surge", "Main IVR"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--demo"), "{error}");
    }

    #[cfg(feature = "demo")]
    #[test]
    fn an_edge_degrade_is_a_demo_or_simulate_flag() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "--demo",
            "--demo-edge-degrade",
            "Edge HQ 2@2026-08-20T14:10:00Z",
        ])
        .unwrap();
        let degrade = cli
            .run
            .demo_edge_degrade
            .unwrap()
            .starting(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(degrade.target, "Edge HQ 2");
        assert_eq!(degrade.start.to_string(), "2026-08-20T14:10:00Z");
        let error = Cli::try_parse_from(["genesys-exporter", "--demo-edge-degrade", "Edge HQ 1"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--demo"), "{error}");
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "simulate",
            "--edge-degrade",
            "Cloud Media 1@+5m",
        ])
        .unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            panic!("simulate");
        };
        let now = jiff::Timestamp::UNIX_EPOCH;
        let degrade = args.edge_degrade.unwrap().starting(now);
        assert_eq!(degrade.target, "Cloud Media 1");
        assert_eq!(degrade.start.to_string(), "1970-01-01T00:05:00Z");
    }

    #[cfg(feature = "demo")]
    #[test]
    fn an_offline_edge_and_a_down_trunk_are_demo_or_simulate_flags() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "--demo",
            "--demo-edge-offline",
            "Edge HQ 2@2026-08-20T14:10:00Z",
            "--demo-trunk-down",
            "BYOC Cloud",
        ])
        .unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        let edge = cli.run.demo_edge_offline.unwrap().starting(now);
        assert_eq!(edge.target, "Edge HQ 2");
        assert_eq!(edge.start.to_string(), "2026-08-20T14:10:00Z");
        let trunk = cli.run.demo_trunk_down.unwrap().starting(now);
        assert_eq!((trunk.target.as_str(), trunk.start), ("BYOC Cloud", now));
        for flag in ["--demo-edge-offline", "--demo-trunk-down"] {
            let error = Cli::try_parse_from(["genesys-exporter", flag, "Edge HQ 1"])
                .err()
                .unwrap();
            assert!(error.to_string().contains("--demo"), "{error}");
        }
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "simulate",
            "--edge-offline",
            "Edge HQ 1@+5m",
            "--trunk-down",
            "Lab trunk",
        ])
        .unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            unreachable!("parsed as simulate")
        };
        assert_eq!(args.edge_offline.unwrap().target, "Edge HQ 1");
        assert_eq!(args.trunk_down.unwrap().target, "Lab trunk");
    }

    #[cfg(feature = "demo")]
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
        assert_eq!(args(&[]).sim_org(), SimulatedOrg::demo());
        let east = args(&["--org", "east", "--queues", "8", "--media-types", "voice"]);
        assert_eq!(
            east.sim_org(),
            SimulatedOrg::named("east", 8, vec!["voice".into()])
        );
        assert_eq!(east.sim_org().name.as_deref(), Some("east"));
        // --demo-floor: the demo's floor, as --demo serves it.
        let floored = args(&["--org", "east", "--demo-floor"]);
        assert_eq!(
            floored.sim_org(),
            SimulatedOrg::demo_named("east").with_floor(DEMO_FLOOR)
        );
        assert_eq!(east.sim_org().floor(), 0.0);
    }

    #[cfg(feature = "demo")]
    #[test]
    fn simulate_time_shifts_its_clock_to_that_instant() {
        let cli = Cli::try_parse_from([
            "genesys-exporter",
            "simulate",
            "--time",
            "2026-08-20T14:07:00Z",
        ])
        .unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            unreachable!("parsed as simulate")
        };
        let start: jiff::Timestamp = "2026-08-20T14:07:00Z".parse().unwrap();
        let read = args.clock().now();
        // It runs on in real time from there: a test takes less than a minute.
        assert!(read >= start && read < start + jiff::SignedDuration::from_secs(60));
    }

    #[test]
    fn shard_and_shard_from_hostname_are_exclusive() {
        let error =
            Cli::try_parse_from(["genesys-exporter", "--shard", "1", "--shard-from-hostname"])
                .err()
                .unwrap()
                .to_string();
        assert!(
            error.contains("--shard <N>") && error.contains("--shard-from-hostname"),
            "{error}"
        );
        let cli = Cli::try_parse_from(["genesys-exporter", "--shard", "1", "--total-shards", "3"])
            .unwrap();
        assert_eq!((cli.run.shard, cli.run.total_shards), (Some(1), Some(3)));
    }

    #[test]
    fn the_shard_flags_win_over_the_keys() {
        let overrides = Overrides {
            listen: None,
            web_config_file: None,
            shard: Some(2),
            total_shards: Some(3),
            #[cfg(feature = "demo")]
            demo_orgs: Vec::new(),
            #[cfg(feature = "demo")]
            demo: Vec::new(),
        };
        let mut config = Config {
            shard: Some(0),
            total_shards: Some(5),
            ..Config::default()
        };
        overrides.apply(&mut config);
        assert_eq!((config.shard, config.total_shards), (Some(2), Some(3)));
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
