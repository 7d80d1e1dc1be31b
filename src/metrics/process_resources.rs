//! The `process_*` metrics of every Prometheus client library, with client_golang's names,
//! help and types: CPU time, memory, file descriptors and start time, read from /proc at
//! each scrape. On Linux only, as /proc is; elsewhere they are absent rather than wrong.
//!
//! Read by hand: the crate that offers them for prometheus-client (kubert-prometheus-process)
//! is built on prometheus-client 0.23, and takes its start time at registration rather
//! than the kernel's; procfs would bring rustix and a parser of all /proc for five numbers
//! from two files and a directory.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Registers the collector that reads the process's resources whenever the registry is
/// encoded.
pub(super) fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessResources));
}

#[derive(Debug)]
struct ProcessResources;

impl Collector for ProcessResources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        #[cfg(target_os = "linux")]
        if let Some(usage) = linux::Usage::read() {
            // OpenMetrics names a counter family without `_total`; its sample has it.
            let cpu = ConstCounter::new(usage.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                cpu.metric_type(),
            )?)?;
            let gauges = [
                (
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    usage.resident_bytes,
                ),
                (
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    usage.start_time_seconds,
                ),
                (
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    usage.virtual_bytes,
                ),
            ];
            for (name, help, value) in gauges {
                gauge(&mut encoder, name, help, value)?;
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(open) = linux::open_fds() {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors.",
                open as f64,
            )?;
        }
        #[cfg(unix)]
        if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                soft as f64,
            )?;
        }
        // Where none of the above is compiled in, the encoder is still taken mutably.
        let _ = &mut encoder;
        Ok(())
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> std::fmt::Result {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

#[cfg(target_os = "linux")]
mod linux {
    /// What /proc/self/stat and /proc/stat say of this process, in the units the metrics
    /// have.
    pub(super) struct Usage {
        pub cpu_seconds: f64,
        pub resident_bytes: f64,
        pub virtual_bytes: f64,
        pub start_time_seconds: f64,
    }

    impl Usage {
        /// `None` if /proc cannot be read or parsed: the metrics are then left out.
        pub(super) fn read() -> Option<Usage> {
            let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
            let boot_time: f64 = std::fs::read_to_string("/proc/stat")
                .ok()?
                .lines()
                .find_map(|line| line.strip_prefix("btime "))?
                .trim()
                .parse()
                .ok()?;
            // The command name, in parentheses, may hold spaces and parentheses: the fields
            // are counted from after the last `)`, where field 3 (`state`) starts (proc(5)).
            let fields: Vec<&str> = stat
                .get(stat.rfind(')')? + 1..)?
                .split_whitespace()
                .collect();
            let field = |number: usize| -> Option<f64> { fields.get(number - 3)?.parse().ok() };
            let ticks = sysconf(libc::_SC_CLK_TCK)?;
            let page = sysconf(libc::_SC_PAGESIZE)?;
            Some(Usage {
                cpu_seconds: (field(14)? + field(15)?) / ticks,
                start_time_seconds: boot_time + field(22)? / ticks,
                virtual_bytes: field(23)?,
                resident_bytes: field(24)? * page,
            })
        }
    }

    /// The entries of /proc/self/fd, counting (as client_golang does) the one its reading
    /// holds open. Read with libc's readdir rather than std's, which allocates each entry's
    /// name: a scrape's allocations would otherwise grow with the process's descriptors.
    pub(super) fn open_fds() -> Option<usize> {
        // SAFETY: the directory stream is opened, read until readdir's null and closed
        // here, and no entry is kept past the next call.
        unsafe {
            let dir = libc::opendir(c"/proc/self/fd".as_ptr());
            if dir.is_null() {
                return None;
            }
            let mut entries = 0_usize;
            while !libc::readdir(dir).is_null() {
                entries += 1;
            }
            libc::closedir(dir);
            // Less `.` and `..`, which std's read_dir leaves out too.
            Some(entries.saturating_sub(2))
        }
    }

    fn sysconf(name: libc::c_int) -> Option<f64> {
        // SAFETY: sysconf only reads a configuration value.
        let value = unsafe { libc::sysconf(name) };
        (value > 0).then_some(value as f64)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use crate::metrics::Metrics;

    fn sample(name: &str) -> f64 {
        Metrics::new([])
            .sample(name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    /// Pages of /proc/self/statm's field `index` (0: size, 1: resident), in bytes.
    fn statm_bytes(index: usize) -> f64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: f64 = statm
            .split_whitespace()
            .nth(index)
            .unwrap()
            .parse()
            .unwrap();
        pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64
    }

    #[test]
    fn they_carry_client_golangs_names_help_and_types() {
        let text = Metrics::new([]).encode_process_text();
        for (name, kind, help) in [
            (
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
            ),
            (
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
            ),
            (
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
            ),
            (
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
            ),
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
            ),
        ] {
            assert!(
                text.contains(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n")),
                "{name}: {text}"
            );
        }
        let openmetrics = Metrics::new([]).encode_process_openmetrics();
        assert!(
            openmetrics.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total ")
        );
    }

    #[test]
    fn open_fds_follow_the_files_opened() {
        // Other tests, on other threads, open and close files too: the count is taken
        // again until no other test's file came or went between the two reads.
        let opened = (0..100).find_map(|_| {
            let before = sample("process_open_fds");
            let files: Vec<std::fs::File> = (0..7)
                .map(|_| std::fs::File::open("/dev/null").unwrap())
                .collect();
            let after = sample("process_open_fds");
            drop(files);
            (after - before == 7.0).then_some(after - before)
        });
        assert_eq!(opened, Some(7.0), "never 7 more, in 100 tries");
    }

    #[test]
    fn max_fds_is_the_soft_limit_on_open_files() {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(sample("process_max_fds"), soft as f64);
    }

    #[test]
    fn memory_is_what_statm_says_between_two_reads() {
        for (name, field) in [
            ("process_virtual_memory_bytes", 0),
            ("process_resident_memory_bytes", 1),
        ] {
            let before = statm_bytes(field);
            let value = sample(name);
            let after = statm_bytes(field);
            // Other tests allocate meanwhile: a margin of 64 MiB either side.
            let margin = 64.0 * 1024.0 * 1024.0;
            assert!(
                before.min(after) - margin <= value && value <= before.max(after) + margin,
                "{name} {value}, statm {before} then {after}"
            );
            assert!(value > 1024.0 * 1024.0, "{name} {value}");
        }
    }

    #[test]
    fn cpu_time_is_what_getrusage_says_to_the_clock_tick() {
        let usage = || {
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: getrusage writes the struct it is given.
            assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            seconds(usage.ru_utime) + seconds(usage.ru_stime)
        };
        let before = usage();
        let cpu = sample("process_cpu_seconds_total");
        let after = usage();
        // /proc counts in clock ticks (10 ms) per thread, rounded down.
        let threads = std::fs::read_dir("/proc/self/task").unwrap().count() as f64;
        assert!(
            before - 0.01 * (threads + 1.0) <= cpu && cpu <= after + 0.01,
            "{cpu} not within {before}..{after}"
        );
    }
}
