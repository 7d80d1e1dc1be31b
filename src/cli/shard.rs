//! The command line's part in sharding: the shard from the host name at start-up, and
//! what `--check-config` says of the shards.

use std::io::Write;

use crate::config::Settings;
use crate::error::Error;
use crate::shard;

/// `--shard-from-hostname`: the ordinal that ends the host name, read once at start-up
/// (a reload keeps the shard).
pub(super) fn from_host_name() -> anyhow::Result<u32> {
    let host_name = shard::host_name().map_err(|error| {
        Error::Config(format!(
            "--shard-from-hostname: cannot read the host name: {error}; give --shard instead"
        ))
    })?;
    Ok(shard::ordinal_of_host_name(&host_name).map_err(Error::Config)?)
}

/// `--check-config` with several shards: which shard runs each org, and which of them
/// this process would run.
pub(super) fn print(settings: &Settings) {
    let mut stderr = std::io::stderr().lock();
    for line in lines(settings) {
        let _ = writeln!(stderr, "{line}");
    }
}

/// The lines of [`print`]: `org east: shard 2 of 3`, one an org, then `this
/// process, shard 1 of 3, would run: org-2`.
fn lines(settings: &Settings) -> Vec<String> {
    let shard = settings.shard;
    let mut lines = Vec::new();
    let mut runs = Vec::new();
    for org in &settings.orgs {
        let of = shard.of(&org.org);
        let (line, name) = match org.org.name() {
            Some(name) => (format!("org {name}"), name),
            None => ("the one org (no [[orgs]])".to_owned(), "the one org"),
        };
        lines.push(format!("{line}: shard {of} of {}", shard.total));
        if of == shard.index {
            runs.push(name);
        }
    }
    let runs = match runs.is_empty() {
        true => "no org".to_owned(),
        false => runs.join(", "),
    };
    lines.push(format!("this process, {shard}, would run: {runs}"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn check_config_says_which_shard_runs_each_org_and_the_one_org_by_name() {
        let settings = |text: &str| {
            let mut config: Config = toml::from_str(text).unwrap();
            config.total_shards = Some(3);
            config.shard = Some(2);
            config.validate().unwrap()
        };
        let org = |name: &str| {
            format!(
                "[[orgs]]\nname = \"{name}\"\nclient_id = \"i\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n"
            )
        };
        // east and west hash to shard 2 of 3, org-2 to 1 (pinned in src/shard.rs).
        let named = settings(&[org("east"), org("org-2"), org("west")].concat());
        assert_eq!(
            lines(&named),
            [
                "org east: shard 2 of 3",
                "org org-2: shard 1 of 3",
                "org west: shard 2 of 3",
                "this process, shard 2 of 3, would run: east, west",
            ]
        );
        let unnamed =
            settings("client_id = \"i\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n");
        assert_eq!(
            lines(&unnamed),
            [
                "the one org (no [[orgs]]): shard 0 of 3",
                "this process, shard 2 of 3, would run: no org",
            ]
        );
        let mut first = unnamed.clone();
        first.shard = shard::Shard::new(0, 3).unwrap();
        assert_eq!(
            lines(&first)[1],
            "this process, shard 0 of 3, would run: the one org"
        );
    }
}
