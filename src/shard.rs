//! Which orgs this process runs, when several processes share a configuration: shard N of
//! M runs the orgs whose FNV-1a 64-bit hash of their `[[orgs]]` name, modulo M, is N (the
//! hash family kube-state-metrics shards with). The hash is part of the interface: a
//! changed hash would move orgs between running processes, so it is pinned by tests.
//! The one org of a configuration without `[[orgs]]` runs on shard 0.

use std::fmt;
use std::hash::Hasher;

use fnv::FnvHasher;

use crate::org::Org;

/// The most shards a configuration may be split into.
pub const MAX_TOTAL_SHARDS: u32 = 1000;

/// This process's shard: `index` of `total`. Shard 0 of 1, the default, runs every org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { index: 0, total: 1 }
    }
}

impl Shard {
    /// Shard `index` of `total`, checked: `total` in 1..=[`MAX_TOTAL_SHARDS`], `index`
    /// below it. The message names the keys and flags to fix.
    pub fn new(index: u32, total: u32) -> Result<Shard, String> {
        if !(1..=MAX_TOTAL_SHARDS).contains(&total) {
            return Err(format!(
                "total_shards: {total} is out of range; use 1 to {MAX_TOTAL_SHARDS} (set by total_shards or --total-shards; default 1)"
            ));
        }
        if index >= total {
            return Err(format!(
                "shard: {index} is not below total_shards {total}; shards are numbered 0 to {}: set shard (or --shard) to one of them, or raise total_shards (or --total-shards) to the number of processes",
                total - 1
            ));
        }
        Ok(Shard { index, total })
    }

    /// Whether this shard runs `org`.
    pub fn runs(&self, org: &Org) -> bool {
        self.of(org) == self.index
    }

    /// The shard of `total` that runs `org`.
    pub fn of(&self, org: &Org) -> u32 {
        match org.name() {
            Some(name) => shard_of(name, self.total),
            None => 0,
        }
    }
}

/// `shard 2 of 3`.
impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} of {}", self.index, self.total)
    }
}

/// How many orgs a shard runs, in words that read well for any count: `no org`, `1 org`,
/// `3 orgs`.
pub fn orgs_in_words(count: usize) -> String {
    match count {
        0 => "no org".to_owned(),
        1 => "1 org".to_owned(),
        count => format!("{count} orgs"),
    }
}

/// The shard of `total` that runs the org `name`: FNV-1a 64 of its UTF-8 bytes, modulo
/// `total`. Written with `Hasher::write`, not `Hash::hash`, which would append a 0xff.
pub fn shard_of(name: &str, total: u32) -> u32 {
    let mut hasher = FnvHasher::default();
    hasher.write(name.as_bytes());
    // Below `total`, a u32.
    (hasher.finish() % u64::from(total.max(1))) as u32
}

/// The shard a StatefulSet's pod runs: the decimal ordinal after the last `-` of its host
/// name's first label (`genesys-exporter-2.genesys-exporter.monitoring.svc` → 2).
pub fn ordinal_of_host_name(host_name: &str) -> Result<u32, String> {
    let label = host_name.split('.').next().unwrap_or_default();
    let ordinal = label.rsplit_once('-').map(|(_, ordinal)| ordinal);
    match ordinal {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().map_err(|_| {
                format!(
                    "--shard-from-hostname: the host name {host_name:?} ends in {digits}, too large for a shard; use --shard instead"
                )
            })
        }
        _ => Err(format!(
            "--shard-from-hostname: the host name {host_name:?} does not end in -<number> as a StatefulSet's pods do (genesys-exporter-2); run it in a StatefulSet, or give --shard instead"
        )),
    }
}

/// This machine's host name, as `hostname` prints it.
#[cfg(unix)]
pub fn host_name() -> std::io::Result<String> {
    // 256 bytes: beyond the 255 POSIX allows (HOST_NAME_MAX is 64 on Linux).
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the call.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // A name that fills the buffer may be cut without its NUL.
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    Ok(String::from_utf8_lossy(&buffer[..end]).into_owned())
}

/// This machine's host name: not read on this platform.
#[cfg(not(unix))]
pub fn host_name() -> std::io::Result<String> {
    Err(std::io::Error::other(
        "reading the host name is supported on Unix only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv_1a_64_of_the_names_bytes() {
        let hash = |name: &str| {
            let mut hasher = FnvHasher::default();
            hasher.write(name.as_bytes());
            hasher.finish()
        };
        // The published FNV-1a 64 test vectors (draft-eastlake-fnv).
        assert_eq!(hash(""), 0xcbf29ce484222325);
        assert_eq!(hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(hash("foobar"), 0x85944171f73967e8);
    }

    /// Pinned: a change here moves orgs between running shards. Computed independently:
    ///
    /// ```python
    /// def fnv(s):
    ///     h = 0xcbf29ce484222325
    ///     for b in s.encode():
    ///         h = ((h ^ b) * 0x100000001b3) % 2**64
    ///     return h
    /// [(n, fnv(n) % 3, fnv(n) % 1000) for n in ["east", "west", "north", ...]]
    /// ```
    #[test]
    fn names_are_pinned_to_their_shards() {
        for (name, of_3, of_1000) in [
            ("east", 2, 564),
            ("west", 2, 310),
            ("north", 0, 700),
            ("south", 0, 562),
            ("acme", 2, 87),
            ("initech", 0, 841),
            ("org-2", 1, 522),
            ("org-7", 1, 889),
        ] {
            assert_eq!(shard_of(name, 3), of_3, "{name} of 3");
            assert_eq!(shard_of(name, 1000), of_1000, "{name} of 1000");
            assert_eq!(shard_of(name, 1), 0, "{name} of 1");
        }
    }

    #[test]
    fn a_shard_runs_the_orgs_that_hash_to_it_and_shard_0_the_unnamed_org() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard::new(index, 3).unwrap()).collect();
        for name in ["east", "west", "north", "org-2"] {
            let org = Org::named(name);
            let running: Vec<u32> = shards
                .iter()
                .filter(|s| s.runs(&org))
                .map(|s| s.index)
                .collect();
            assert_eq!(running, [shard_of(name, 3)], "{name}");
        }
        assert!(shards[0].runs(&Org::unnamed()));
        assert!(!shards[1].runs(&Org::unnamed()) && !shards[2].runs(&Org::unnamed()));
        assert!(Shard::default().runs(&Org::named("east")));
        assert_eq!(Shard::new(2, 3).unwrap().to_string(), "shard 2 of 3");
    }

    #[test]
    fn a_count_of_orgs_reads_well_for_none_one_and_many() {
        assert_eq!(orgs_in_words(0), "no org");
        assert_eq!(orgs_in_words(1), "1 org");
        assert_eq!(orgs_in_words(2), "2 orgs");
        assert_eq!(orgs_in_words(1000), "1000 orgs");
    }

    #[test]
    fn shards_and_their_total_are_bounded() {
        assert_eq!(Shard::new(0, 1), Ok(Shard::default()));
        assert_eq!(Shard::new(999, MAX_TOTAL_SHARDS).map(|s| s.index), Ok(999));
        let error = Shard::new(3, 3).unwrap_err();
        assert!(
            error.contains("shard: 3 is not below total_shards 3")
                && error.contains("0 to 2")
                && error.contains("--total-shards"),
            "{error}"
        );
        for total in [0, MAX_TOTAL_SHARDS + 1] {
            let error = Shard::new(0, total).unwrap_err();
            assert!(
                error.starts_with(&format!(
                    "total_shards: {total} is out of range; use 1 to 1000"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn a_statefulsets_host_names_give_their_ordinal() {
        for (host, ordinal) in [
            ("genesys-exporter-0", 0),
            ("genesys-exporter-2", 2),
            (
                "genesys-exporter-12.genesys-exporter.monitoring.svc.cluster.local",
                12,
            ),
            ("web-007", 7),
        ] {
            assert_eq!(ordinal_of_host_name(host), Ok(ordinal), "{host}");
        }
    }

    #[test]
    fn a_host_name_without_an_ordinal_is_refused_by_name() {
        for host in [
            "genesys-exporter",
            "genesys-exporter-",
            "genesys-exporter-2a",
            "genesys-exporter-+2",
            "laptop",
            "",
            "exporter.genesys-2",
        ] {
            let error = ordinal_of_host_name(host).unwrap_err();
            assert!(
                error.contains(&format!("{host:?}")) && error.contains("--shard"),
                "{host}: {error}"
            );
        }
        let error = ordinal_of_host_name("genesys-exporter-99999999999").unwrap_err();
        assert!(error.contains("too large"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn the_host_name_is_the_one_the_system_reports() {
        let name = host_name().unwrap();
        assert!(!name.is_empty() && !name.contains('\0'), "{name:?}");
        if let Ok(file) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(name, file.trim());
        }
    }
}
