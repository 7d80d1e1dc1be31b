//! `genesys-exporter report`: its arguments, the org and query they choose, and the run.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

#[cfg(feature = "demo")]
use super::demo::start_demo;
use super::off_the_runtime;
use crate::config::{Config, OrgConfig, QueryConfig};
use crate::error::Error;
use crate::genesys::client::Client;
use crate::genesys::jobs::JobPolicy;
use crate::metrics::Metrics;
use crate::report;
#[cfg(feature = "demo")]
use crate::shard::Shard;
#[cfg(feature = "demo")]
use genesys_sim::{DEMO_MEDIA_TYPES, SimulatorConfig};

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
    /// Only these columns, in this order, comma-separated (any format), e.g.
    /// interval_start,queue,offered,handle_seconds_avg.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        conflicts_with = "wide"
    )]
    columns: Option<Vec<String>>,
    /// Every column in the table format, however wide; by default it shows the main
    /// columns that fit in 120 characters.
    #[arg(long)]
    wide: bool,
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
    /// TOML configuration file, as for the exporter.
    #[arg(
        long = "config.file",
        visible_alias = "config",
        short,
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    /// Report from the built-in simulator instead of a Genesys Cloud org.
    #[cfg(feature = "demo")]
    #[arg(long)]
    demo: bool,
}

/// The report's query: a configured one or the defaults, with these flags overriding it.
#[derive(Args)]
struct QueryArgs {
    /// Start from this configured query's settings instead of the defaults.
    #[arg(long = "query", value_name = "NAME")]
    name: Option<String>,
    /// Which aggregates: conversations (the default), flows or actions.
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
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

/// `--format`: the command line's names for [`report::ReportFormat`], which knows nothing of
/// clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Json,
    Csv,
    Table,
}

impl From<OutputFormat> for report::ReportFormat {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Json => report::ReportFormat::Json,
            OutputFormat::Csv => report::ReportFormat::Csv,
            OutputFormat::Table => report::ReportFormat::Table,
        }
    }
}

/// The one-shot report: fetches the range and writes it to `--output` or standard output.
pub async fn report(args: ReportArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = args.config.clone();
    let mut config = off_the_runtime(&shutdown, move || Config::load(path.as_deref())).await?;
    #[cfg(feature = "demo")]
    if args.demo {
        let size = (6, DEMO_MEDIA_TYPES.map(String::from).to_vec());
        // A report is of one org, whatever shard runs it: every org is simulated.
        let shard = Shard::default();
        start_demo(
            &mut config,
            SimulatorConfig::default(),
            size,
            shard,
            &shutdown,
        )
        .await?;
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
    let source = org.queries[0].source;
    if args.always_async && !source.has_jobs() {
        anyhow::bail!(
            "--async: {source} aggregates have no asynchronous jobs and are asked synchronously; leave --async out"
        );
    }
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
    let (table, left_out) = match (&args.columns, format) {
        (Some(names), _) => (table.select(names)?, Vec::new()),
        (None, report::ReportFormat::Table) if !args.wide => {
            report::fit(&table, report::TABLE_WIDTH)
        }
        (None, _) => (table, Vec::new()),
    };
    match &args.output {
        Some(path) => report::write_file(&table, format, path)
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?,
        None => {
            // A closed pipe (`report | head`) comes back as BrokenPipe: main ends quietly.
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            table.write(format, &mut stdout)?;
            stdout.flush()?;
        }
    }
    if !left_out.is_empty() {
        // On stderr, after the table, so that the table itself stays clean for a pager or
        // a file; nothing to do if stderr is closed.
        let _ = writeln!(
            std::io::stderr(),
            "{shown} of {all} columns shown to fit {width} characters: --wide shows all, --columns NAME,... chooses",
            shown = table.columns.len(),
            all = table.columns.len() + left_out.len(),
            width = report::TABLE_WIDTH,
        );
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
        query.source = self.source.or(query.source);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::cli::{Cli, Command};

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
        assert_eq!(query.source, None, "conversations unless a source is named");
    }

    #[test]
    fn a_configured_query_keeps_its_source_and_the_flag_names_another() {
        let mut config = configured(&["flows"]);
        config.queries[0].source = Some("flows".into());
        config.queries[0].metrics = None;
        let query = report_args(&["--query", "flows"])
            .query
            .apply_to(&config, None)
            .unwrap();
        assert_eq!(query.source.as_deref(), Some("flows"));
        let query = report_args(&["--source", "actions"])
            .query
            .apply_to(&config, None)
            .unwrap();
        assert_eq!(query.source.as_deref(), Some("actions"));
        config.queries = vec![query];
        config.client_id = Some("id".into());
        config.client_secret = Some("secret".into());
        config.region = Some("eu-west-1".into());
        let settings = config.validate().unwrap();
        assert_eq!(settings.orgs[0].queries[0].metrics, ["tTotalExecution"]);
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
}
