//! The log: `--log.level` and `--log.format` as prometheus/common's promslog has them, with
//! `RUST_LOG` as the fine-grained override. One record per event, written as logfmt or as
//! one JSON object per line, with the same keys in both: `time`, `level`, `target`, `msg`,
//! then the fields of the spans it is in (a poller's `org` and `query`), then its own.
//!
//! Both formats are written here from one list of fields: tracing-logfmt names and places
//! span fields its own way (`span`, `span_path`, `ts`), and tracing-subscriber's JSON nests
//! them under `span`, so that neither pair of crates gives the same fields in both.

use std::fmt::{self, Write as _};

use clap::ValueEnum;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::error::Error;

/// `--log.level`: the least severe events logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// `--log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, values quoted where they hold a space, `=` or `"`.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The filter: `RUST_LOG` when it is set (and not empty), on top of `level` for what it
/// does not name; `level` alone otherwise. `RUST_LOG` wins because it is the deliberate,
/// fine-grained override (one module at `debug`, a dependency at `trace`), usually set for
/// a while in the environment of a deployment whose flags stay as they are.
pub fn filter(level: LogLevel, rust_log: Option<&str>) -> Result<EnvFilter, Error> {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    match rust_log.map(str::trim).filter(|directives| !directives.is_empty()) {
        // A bare level in RUST_LOG comes later, and so replaces `level`.
        Some(directives) => EnvFilter::try_new(format!("{level},{directives}")).map_err(|error| {
            Error::Config(format!(
                "RUST_LOG={directives:?}: {error}; write directives such as `info` or `genesys_exporter::genesys=debug`, or unset it and use --log.level"
            ))
        }),
        None => Ok(EnvFilter::new(level)),
    }
}

/// `RUST_LOG`, if set: a value that is not Unicode is an error, as a malformed one is,
/// rather than taken as unset.
pub fn rust_log() -> Result<Option<String>, Error> {
    match std::env::var("RUST_LOG") {
        Ok(directives) => Ok(Some(directives)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(
            "RUST_LOG is not valid Unicode; write directives such as `info` or `genesys_exporter::genesys=debug`, or unset it and use --log.level".into(),
        )),
    }
}

/// Logs to standard error in `format`, through `filter`, from now on.
pub fn init(filter: EnvFilter, format: LogFormat) {
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Its default, an eprintln! of a failed write, panics on a closed stderr; inside
        // the panic hook that panic aborts the process. (Set before `event_format`: the
        // builder has it only while the format is its own.)
        .log_internal_errors(false)
        .fmt_fields(JsonFields::new())
        .event_format(Record { format })
        .init();
}

/// Writes each event as one line in `format`.
struct Record {
    format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for Record
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let time = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
        let mut fields = Fields(vec![
            ("time".into(), time.to_string().into()),
            (
                "level".into(),
                metadata.level().as_str().to_ascii_lowercase().into(),
            ),
            ("target".into(), metadata.target().into()),
            ("msg".into(), "".into()),
        ]);
        // The spans' fields, stored as JSON objects by `JsonFields`, outermost first.
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let extensions = span.extensions();
            let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                continue;
            };
            if let Ok(Value::Object(span_fields)) = serde_json::from_str(stored) {
                for (key, value) in span_fields {
                    fields.insert(&key, value);
                }
            }
        }
        event.record(&mut fields);
        let mut line = String::with_capacity(256);
        match self.format {
            LogFormat::Json => {
                line.push('{');
                for (index, (key, value)) in fields.0.iter().enumerate() {
                    if index > 0 {
                        line.push(',');
                    }
                    line.push_str(&Value::from(key.as_str()).to_string());
                    line.push(':');
                    line.push_str(&value.to_string());
                }
                line.push('}');
            }
            LogFormat::Logfmt => {
                for (index, (key, value)) in fields.0.iter().enumerate() {
                    if index > 0 {
                        line.push(' ');
                    }
                    line.push_str(key);
                    line.push('=');
                    push_logfmt_value(&mut line, value);
                }
            }
        }
        writeln!(writer, "{line}")
    }
}

/// A logfmt value: bare if it is a plain word, otherwise quoted with `"`, `\` and control
/// characters escaped (as go-logfmt does), so that a line always splits back into its pairs.
fn push_logfmt_value(line: &mut String, value: &Value) {
    let text = match value {
        Value::String(text) => text.as_str(),
        other => {
            let _ = write!(line, "{other}");
            return;
        }
    };
    let bare = !text.is_empty()
        && !text
            .chars()
            .any(|c| c <= ' ' || c == '=' || c == '"' || c.is_control() || c == '\u{fffd}');
    if bare {
        line.push_str(text);
        return;
    }
    line.push('"');
    for c in text.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                // JSON's form, which go-logfmt writes and reads.
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// A record's fields in order, each key once: a later value replaces an earlier one in
/// its place (an event's field, a span's of the same name). The event's message is `msg`.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn insert(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(held, _)| held == key) {
            Some((_, held)) => *held = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn record(&mut self, field: &Field, value: Value) {
        let key = match field.name() {
            "message" => "msg",
            name => name,
        };
        self.insert(key, value);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What `emit` logs in `format`, at `debug` and above.
    fn logged(format: LogFormat, emit: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(LogLevel::Debug, None).unwrap())
            .with_writer(move || writer.clone())
            .fmt_fields(JsonFields::new())
            .event_format(Record { format })
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// A poller's warning, in its span, as `collect::run` logs one.
    fn poll_failed() {
        let span = tracing::error_span!("poller", org = "east", query = %"q 1");
        let _entered = span.enter();
        tracing::warn!(error = %"HTTP 503 \"busy\"", attempts = 3, "poll failed");
        tracing::trace!("not logged at debug");
    }

    #[test]
    fn both_formats_carry_the_same_fields_span_fields_flattened() {
        let json = logged(LogFormat::Json, poll_failed);
        assert_eq!(json.lines().count(), 1, "{json}");
        let record: Value = serde_json::from_str(&json).unwrap();
        let time = record["time"].as_str().unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{record}");
        assert_eq!(
            json.replacen(time, "T", 1),
            "{\"time\":\"T\",\"level\":\"warn\",\"target\":\"genesys_exporter::cli::logging::tests\",\"msg\":\"poll failed\",\"org\":\"east\",\"query\":\"q 1\",\"error\":\"HTTP 503 \\\"busy\\\"\",\"attempts\":3}\n"
        );

        let logfmt = logged(LogFormat::Logfmt, poll_failed);
        assert!(logfmt.starts_with("time="), "{logfmt}");
        let time = logfmt["time=".len()..].split(' ').next().unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{logfmt}");
        assert_eq!(
            logfmt.replacen(time, "T", 1),
            "time=T level=warn target=genesys_exporter::cli::logging::tests msg=\"poll failed\" org=east query=\"q 1\" error=\"HTTP 503 \\\"busy\\\"\" attempts=3\n"
        );
    }

    fn logfmt(value: &str) -> String {
        let mut line = String::new();
        push_logfmt_value(&mut line, &Value::String(value.into()));
        line
    }

    #[test]
    fn logfmt_values_are_quoted_only_where_they_must_be() {
        assert_eq!(logfmt("127.0.0.1:9871"), "127.0.0.1:9871");
        assert_eq!(logfmt("serving /metrics"), "\"serving /metrics\"");
        assert_eq!(logfmt(""), "\"\"");
        assert_eq!(logfmt("a=b"), "\"a=b\"");
        assert_eq!(
            logfmt("say \"hi\"\\\nnext\u{1}"),
            "\"say \\\"hi\\\"\\\\\\nnext\\u0001\""
        );
        // A C1 control (NEL) is escaped too, never written raw in a bare value.
        assert_eq!(logfmt("a\u{85}b"), "\"a\\u0085b\"");
    }

    #[test]
    fn rust_log_wins_over_the_level_for_what_it_names() {
        let filter = filter(LogLevel::Warn, Some("genesys_exporter::genesys=debug")).unwrap();
        assert_eq!(filter.to_string(), "genesys_exporter::genesys=debug,warn");
        let filter = super::filter(LogLevel::Warn, Some("debug")).unwrap();
        assert_eq!(filter.to_string(), "debug");
        let filter = super::filter(LogLevel::Error, Some("  ")).unwrap();
        assert_eq!(filter.to_string(), "error");
        let error = super::filter(LogLevel::Info, Some("genesys_exporter=loud"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("RUST_LOG=\"genesys_exporter=loud\""),
            "{error}"
        );
        assert!(error.contains("--log.level"), "{error}");
    }
}
