//! Several simulated orgs, each on a simulator of its own with its own credentials and
//! data, and a configuration of them as `[[orgs]]`.

use genesys_sim::{SimulatedOrg, SimulatorConfig};

use super::samples::{Samples, value};
use super::sim::{Sim, afternoon_sim, start_simulator};

/// The simulated org `name`: the demo's queue names, its own queue IDs and traffic.
pub fn org_data(name: &str) -> SimulatedOrg {
    SimulatedOrg::demo_named(name)
}

/// A simulator serving the org `name`, with credentials of its own.
pub async fn simulated(name: &str) -> Sim {
    start_simulator(SimulatorConfig {
        client_id: format!("{name}-client"),
        client_secret: format!("{name}-secret").into(),
        org: org_data(name),
        ..afternoon_sim()
    })
    .await
}

/// The text of a configuration of `orgs` (name and simulator) on their simulators, each
/// with the query `hourly` of hour buckets (its next poll far off, so that a poll the
/// test sees came from a start); no observations.
pub fn config_text(orgs: &[(&str, &Sim)]) -> String {
    let mut text = String::from(
        "[observations]\nenabled = false\n\n[[queries]]\nname = \"hourly\"\ngranularity = \"PT1H\"\nmetrics = [\"nOffered\"]\n",
    );
    for (name, sim) in orgs {
        text.push_str(&format!(
            "\n[[orgs]]\nname = \"{name}\"\nclient_id = \"{name}-client\"\nclient_secret = \"{name}-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n",
            url = sim.url
        ));
    }
    text
}

/// `genesys_up` of `org`'s query `hourly`.
pub fn hourly_up(samples: &Samples, org: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("org", org), ("query", "hourly")])
}

/// Whether any series carries `org="<org>"`.
pub fn has_org(samples: &Samples, org: &str) -> bool {
    samples
        .keys()
        .any(|(_, labels)| labels.get("org").is_some_and(|o| o == org))
}
