//! The deployment files: they parse, agree with each other, and configure the exporter
//! with keys it knows. Each way of running it (compose, Kubernetes, systemd) is replayed
//! as `genesys-exporter ... --check-config` with the arguments, environment and files it
//! would get. Docker itself cannot run here, so the Dockerfile and compose file are
//! checked by reading them, the Dockerfile's build context is replayed with cargo, and
//! the Kubernetes objects are validated against the API's schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use genesys_exporter::config::{DEFAULT_LISTEN, SHORT_ENV_KEYS};
use genesys_exporter::shard::ordinal_of_host_name;
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;
use tempfile::TempDir;

use crate::util::{
    ci::required_tool,
    dashboards::{dashboards, panels},
    files::{ROOT, files_under, path, read, temp_dir, write_file},
    markdown::{anchors, slug},
    tables::table_rows,
};

/// Every document of a YAML file.
fn yaml_documents(relative: &str) -> Vec<Yaml> {
    yaml_documents_of(relative, &read(relative))
}

/// Every document of YAML `text`, from `origin`.
fn yaml_documents_of(origin: &str, text: &str) -> Vec<Yaml> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| Yaml::deserialize(document).unwrap_or_else(|e| panic!("{origin}: {e}")))
        .collect()
}

fn yaml(relative: &str) -> Yaml {
    let mut documents = yaml_documents(relative);
    assert_eq!(documents.len(), 1, "{relative}: one YAML document");
    documents.remove(0)
}

fn str_of<'a>(value: &'a Yaml, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value:?}"))
}

#[test]
fn every_yaml_file_parses() {
    let files: Vec<String> = ["deploy", "grafana"]
        .iter()
        .flat_map(|dir| files_under(dir, &[".yml", ".yaml"]))
        .collect();
    assert!(files.len() >= 14, "{files:?}");
    for file in &files {
        let documents = yaml_documents(file);
        assert!(!documents.is_empty(), "{file} is empty");
        for document in documents {
            assert!(document.is_mapping(), "{file}: a document is not a mapping");
        }
    }
}

// -- The exporter's configuration, as each deployment gives it ---------------------------

/// Checks that each GENESYS_* variable is one the exporter reads, then runs
/// `genesys-exporter ARGS --check-config` with exactly `env` (none inherited) and
/// returns its log; fails unless the configuration is valid.
fn check_config(origin: &str, args: &[String], env: &BTreeMap<String, String>) -> String {
    for name in env.keys().filter(|n| n.starts_with("GENESYS_")) {
        let short = name["GENESYS_".len()..].to_ascii_lowercase();
        assert!(
            name.starts_with("GENESYS_EXPORTER_") || SHORT_ENV_KEYS.contains(&short.as_str()),
            "{origin}: {name} is not read by the exporter; use GENESYS_EXPORTER_<KEY> or one of {SHORT_ENV_KEYS:?} as GENESYS_<KEY>"
        );
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command.args(args).arg("--check-config").env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env);
    let output = command.output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && log.contains("configuration is valid"),
        "{origin}: genesys-exporter {args:?} with {env:?}:\n{log}"
    );
    log
}

#[test]
fn the_compose_file_runs_the_demo_and_provisions_prometheus_and_grafana() {
    let compose = yaml("deploy/docker-compose.yml");
    let services = &compose["services"];

    let exporter = &services["genesys-exporter"];
    let build = &exporter["build"];
    let dockerfile = Path::new("deploy")
        .join(str_of(&build["context"], "build.context"))
        .join(str_of(&build["dockerfile"], "build.dockerfile"));
    assert!(
        path(&dockerfile.to_string_lossy()).is_file(),
        "{dockerfile:?}"
    );
    let args: Vec<String> = exporter["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "command").to_owned())
        .collect();
    assert!(args.contains(&"--demo".to_owned()), "compose runs the demo");
    let env: BTreeMap<String, String> = exporter["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                str_of(k, "environment").to_owned(),
                str_of(v, "environment").to_owned(),
            )
        })
        .collect();
    let log = check_config("deploy/docker-compose.yml", &args, &env);
    // The demo's own queries: its `live` is a 5-minute window read every minute, and
    // the flows and actions queries the IVR dashboard reads (src/cli/demo.rs tests them).
    assert!(
        log.contains("6 queries (default, live, flows, flows_live, actions, actions_live)"),
        "{log}"
    );
    let listen_port = env["GENESYS_EXPORTER_LISTEN"].rsplit(':').next().unwrap();
    assert!(
        exporter["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| str_of(p, "ports").ends_with(&format!(":{listen_port}"))),
        "the exporter's port {listen_port} is published"
    );

    // Prometheus: the shipped folder, its config, and a scrape target that is this service.
    let prometheus = &services["prometheus"];
    let volumes: Vec<&str> = prometheus["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| str_of(v, "volumes"))
        .collect();
    assert!(
        volumes.contains(&"./prometheus:/etc/prometheus:ro"),
        "{volumes:?}"
    );
    let command: Vec<&str> = prometheus["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| str_of(c, "command"))
        .collect();
    assert!(command.contains(&"--config.file=/etc/prometheus/prometheus.yml"));
    let config = yaml("deploy/prometheus/prometheus.yml");
    let target = str_of(
        &config["scrape_configs"][0]["static_configs"][0]["targets"][0],
        "target",
    );
    assert_eq!(target, format!("genesys-exporter:{listen_port}"));
    for rule_file in config["rule_files"].as_sequence().unwrap() {
        let rule_file = str_of(rule_file, "rule_files");
        assert!(
            path(&format!("deploy/prometheus/{rule_file}")).is_file(),
            "{rule_file}"
        );
    }

    // Grafana: provisioning where Grafana reads it, dashboards where the provider looks.
    let grafana = &services["grafana"];
    let volumes: Vec<(&str, &str)> = grafana["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let mut parts = str_of(v, "volumes").split(':');
            Some((parts.next()?, parts.next()?))
        })
        .collect();
    let mounted_at = |source: &str| {
        volumes
            .iter()
            .find(|(s, _)| *s == source)
            .unwrap_or_else(|| panic!("grafana does not mount {source}"))
            .1
    };
    assert_eq!(
        mounted_at("../grafana/provisioning"),
        "/etc/grafana/provisioning"
    );
    let provider = yaml("grafana/provisioning/dashboards/genesys.yml");
    assert_eq!(
        mounted_at("../grafana/dashboards"),
        str_of(&provider["providers"][0]["options"]["path"], "path")
    );
    let home = str_of(
        &grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"],
        "home dashboard",
    );
    let home_file = home
        .strip_prefix(mounted_at("../grafana/dashboards"))
        .unwrap();
    assert!(
        path(&format!("grafana/dashboards{home_file}")).is_file(),
        "{home}"
    );
    let datasource = yaml("grafana/provisioning/datasources/prometheus.yml");
    let datasource = &datasource["datasources"][0];
    assert_eq!(datasource["type"], "prometheus");
    assert_eq!(datasource["url"], "http://prometheus:9090");
    assert_eq!(
        datasource["jsonData"]["timeInterval"], config["global"]["scrape_interval"],
        "Grafana knows Prometheus's scrape interval"
    );
}

/// The `[[queries]]` of a configuration file's text.
fn queries_of(origin: &str, text: &str) -> Vec<toml::Table> {
    let config: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{origin}: {e}"));
    config["queries"]
        .as_array()
        .unwrap_or_else(|| panic!("{origin}: no [[queries]]"))
        .iter()
        .map(|query| query.as_table().unwrap().clone())
        .collect()
}

#[test]
fn every_shipped_configuration_runs_the_live_rolling_query_the_alerts_and_wallboard_read() {
    // The example (which the systemd unit installs) and the Kubernetes ConfigMaps; the
    // compose file runs the demo, whose queries are checked above and in src/cli/demo.rs.
    let configmap = |dir: &str| {
        kubernetes_objects(dir)["ConfigMap"]["data"]["genesys.toml"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let shipped = [
        (
            "deploy/config.example.toml",
            read("deploy/config.example.toml"),
        ),
        ("deploy/kubernetes/configmap.yaml", configmap(KUBERNETES)),
        (
            "deploy/kubernetes/sharded/configmap.yaml",
            configmap(SHARDED),
        ),
    ];
    let text = |value: &toml::Value| value.as_str().map(str::to_owned);
    for (origin, config) in shipped {
        let queries = queries_of(origin, &config);
        let live = queries
            .iter()
            .find(|q| q["name"].as_str() == Some("live"))
            .unwrap_or_else(|| panic!("{origin}: no query named live"));
        // A rolling window (no granularity) of five minutes read every minute: the window
        // the live abandon alert's latency arithmetic and docs/alerts.md assume.
        assert_eq!(
            live.get("window").and_then(text).as_deref(),
            Some("5m"),
            "{origin}"
        );
        assert_eq!(
            live.get("refresh").and_then(text).as_deref(),
            Some("1m"),
            "{origin}"
        );
        assert!(live.get("granularity").is_none(), "{origin}");
        // By queue and media type, with what the live abandon rate and service level read.
        let strings = |key: &str| -> Vec<String> {
            live[key]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(text)
                .collect()
        };
        assert_eq!(strings("group_by"), ["queueId", "mediaType"], "{origin}");
        let metrics = strings("metrics");
        for needed in ["nOffered", "tAbandon", "oServiceLevel"] {
            assert!(metrics.iter().any(|m| m == needed), "{origin}: {needed}");
        }
        // And the file passes --check-config as it is shipped (its secret file aside).
        // The sharded one's orgs each have a secret of their own: its test gives them.
        if toml::from_str::<toml::Table>(&config)
            .unwrap()
            .contains_key("orgs")
        {
            continue;
        }
        let scratch = temp_dir();
        let file = write_file(&scratch, "genesys.toml", &config);
        let secret = write_file(&scratch, "secret", "s3cret\n");
        let env = BTreeMap::from([
            (
                "GENESYS_EXPORTER_CLIENT_SECRET_FILE".to_owned(),
                secret.to_string_lossy().into_owned(),
            ),
            ("GENESYS_CLIENT_ID".to_owned(), "client".to_owned()),
        ]);
        let args = ["--config".to_owned(), file.to_string_lossy().into_owned()];
        let log = check_config(origin, &args, &env);
        assert!(log.contains(", live") || log.contains("(live"), "{log}");
    }
    // The wallboard's rolling panels pick the rolling conversations queries by the window
    // gauge, as the live alert does, through the rule that joins them (the flows and
    // actions queries have windows too).
    let (_, wallboard) = dashboards()
        .into_iter()
        .find(|(file, _)| file == "genesys-live.json")
        .unwrap();
    let variables = wallboard["templating"]["list"].as_array().unwrap();
    let query = variables.iter().find(|v| v["name"] == "query").unwrap();
    assert_eq!(
        query["query"],
        "label_values(media_type:genesys_conversation_offered_rolling:sum{org=~\"$org\"}, query)"
    );
    let recording = read("deploy/prometheus/recording.rules.yml");
    assert!(recording.contains(
        "media_type:genesys_conversation_offered:sum\n          and on (org, query) genesys_query_window_seconds"
    ));
    let alerts = read("deploy/prometheus/alerts.rules.yml");
    assert!(alerts.contains("and on (org, query) genesys_query_window_seconds"));
}

#[test]
fn docker_compose_accepts_the_compose_file() {
    // Debian's docker-compose validates the file against the Compose schema without a
    // Docker engine. Outside CI it may be missing; .ci/run installs it.
    let Some(docker_compose) = required_tool(
        "docker-compose",
        "version",
        "apt-get install docker-compose",
    ) else {
        return;
    };
    let output = Command::new(docker_compose)
        .args(["-f", "deploy/docker-compose.yml", "config", "--quiet"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker-compose config: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// -- Kubernetes ---------------------------------------------------------------------------

/// The kustomization of one process (a Deployment), and the sharded one (a StatefulSet).
const KUBERNETES: &str = "deploy/kubernetes";
const SHARDED: &str = "deploy/kubernetes/sharded";

/// The objects of a kustomization's files, by kind, as written: kubectl builds them
/// unchanged (`kubectl_builds_each_kustomization_from_its_files_unchanged`).
fn kubernetes_objects(dir: &str) -> BTreeMap<String, Yaml> {
    let kustomization = yaml(&format!("{dir}/kustomization.yaml"));
    let mut objects = BTreeMap::new();
    for resource in kustomization["resources"].as_sequence().unwrap() {
        let file = format!("{dir}/{}", str_of(resource, "resources"));
        for object in yaml_documents(&file) {
            let kind = str_of(&object["kind"], "kind").to_owned();
            assert!(object["apiVersion"].is_string(), "{file}: apiVersion");
            assert_eq!(object["metadata"]["name"], "genesys-exporter", "{file}");
            assert!(
                objects.insert(kind.clone(), object).is_none(),
                "two {kind}s"
            );
        }
    }
    objects
}

/// `kubectl kustomize DIR`: what it printed and the objects in it; `None` outside CI
/// without kubectl. Fails on an error and on any warning (a deprecated field).
fn kustomize(dir: &str) -> Option<(String, Vec<Yaml>)> {
    let kubectl = required_tool("kubectl", "--help", "apt-get install kubernetes-client")?;
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(path(dir))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "kubectl kustomize {dir}:\n{stderr}"
    );
    let built = String::from_utf8(output.stdout).unwrap();
    let objects = yaml_documents_of(&format!("kubectl kustomize {dir}"), &built);
    Some((built, objects))
}

/// Runs `program ARGS FILE`: whether it succeeded, and what it said on both outputs.
fn run_on(program: &str, args: &[&str], file: &Path) -> (bool, String) {
    let output = Command::new(program).args(args).arg(file).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[test]
fn every_kustomization_uses_only_what_debians_kubectl_reads() {
    // CI's kubectl is Debian bookworm's (1.20, with kustomize v2.0.3): it knows neither
    // `labels` nor a folder under `resources`, nor `patches` as a list of objects, and
    // current kustomize warns about what it had instead (`commonLabels`, `bases`,
    // `patchesStrategicMerge`). Hence plain lists of files, each object carrying its own
    // labels. This holds where only a current kubectl is installed, too.
    for dir in [KUBERNETES, SHARDED] {
        let file = format!("{dir}/kustomization.yaml");
        let kustomization = yaml(&file);
        let fields: Vec<&str> = kustomization
            .as_mapping()
            .unwrap()
            .keys()
            .map(|key| str_of(key, "field"))
            .collect();
        assert_eq!(fields, ["apiVersion", "kind", "resources"], "{file}");
        for resource in kustomization["resources"].as_sequence().unwrap() {
            let resource = format!("{dir}/{}", str_of(resource, "resources"));
            assert!(
                path(&resource).is_file(),
                "{file}: {resource} is not a file"
            );
        }
    }
}

#[test]
fn kubectl_builds_each_kustomization_from_its_files_unchanged() {
    // Without an error or a warning, and with every object as its file has it (an old
    // kustomize rewrites YAML 1.1 booleans such as an unquoted `y`): the other tests
    // read the files, and this says they read what `kubectl apply -k` applies.
    for dir in [KUBERNETES, SHARDED] {
        let Some((_, built)) = kustomize(dir) else {
            return;
        };
        let mut files = kubernetes_objects(dir);
        for object in built {
            let kind = str_of(&object["kind"], "kind").to_owned();
            let file = files
                .remove(&kind)
                .unwrap_or_else(|| panic!("{dir}: kubectl built a {kind} of no file"));
            assert_eq!(object, file, "{dir}: kubectl changed the {kind}");
        }
        assert!(files.is_empty(), "{dir}: kubectl left out {files:?}");
    }
}

/// The kinds of each kustomization that the Kubernetes API defines; the Prometheus
/// Operator's ServiceMonitor and PrometheusRule are custom resources, whose schemas come
/// with the operator and are checked by reading them (below).
const CORE_KINDS: [(&str, &[&str]); 2] = [
    (
        KUBERNETES,
        &["ConfigMap", "Deployment", "Secret", "Service"],
    ),
    (
        SHARDED,
        &[
            "ConfigMap",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "StatefulSet",
        ],
    ),
];

/// The API group of the Prometheus Operator's custom resources.
const OPERATOR_GROUP: &str = "monitoring.coreos.com/";

#[test]
fn the_kubernetes_objects_are_valid_against_the_api_schemas() {
    // kubernetes-validate (PyPI) carries the API's OpenAPI schemas and works offline;
    // .ci/run installs it. --strict refuses any field the schema does not have.
    let Some(validate) = required_tool(
        "kubernetes-validate",
        "--version",
        "python3 -m venv and pip install kubernetes-validate, as .ci/run does",
    ) else {
        return;
    };
    // It does refuse what the API would: a field the Deployment does not have, and a
    // value of the wrong type.
    let scratch = temp_dir();
    let deployment = read("deploy/kubernetes/deployment.yaml");
    for (what, broken) in [
        (
            "an unknown field",
            deployment.replacen("spec:\n", "spec:\n  replica: 2\n", 1),
        ),
        (
            "a string for a number",
            deployment.replacen("replicas: 1\n", "replicas: two\n", 1),
        ),
    ] {
        assert_ne!(broken, deployment);
        let file = write_file(&scratch, "deployment.yaml", &broken);
        let (passed, _) = run_on(validate, &["--strict", "--no-warn"], &file);
        assert!(!passed, "{what} passed");
    }

    // What kubectl builds, every object of the API's own kinds.
    for (dir, core_kinds) in CORE_KINDS {
        let Some((built, objects)) = kustomize(dir) else {
            return;
        };
        let file = write_file(&scratch, "built.yaml", &built);
        let (passed, said) = run_on(validate, &["--strict", "--no-warn"], &file);
        assert!(passed, "{dir}:\n{said}");
        let mut checked = BTreeSet::new();
        for object in objects {
            if str_of(&object["apiVersion"], "apiVersion").starts_with(OPERATOR_GROUP) {
                continue;
            }
            let kind = str_of(&object["kind"], "kind");
            let name = str_of(&object["metadata"]["name"], "name");
            let resource = format!("{}/{name}", kind.to_lowercase());
            assert!(
                said.contains(&format!("passed for resource {resource} ")),
                "{dir}: {resource} not validated:\n{said}"
            );
            checked.insert(kind.to_owned());
        }
        let core_kinds: BTreeSet<String> = core_kinds.iter().map(|k| k.to_string()).collect();
        assert_eq!(checked, core_kinds, "{dir}");
    }
}

/// What the first container of a pod `template` would run: its args, each path under a
/// volume mount replaced by the file that volume holds there (written under `scratch`,
/// a folder per volume), and its environment (the Secrets it takes variables from,
/// then its own). Its volumes are ConfigMaps and Secrets of `objects`, whole or projected.
fn pod_command(
    objects: &BTreeMap<String, Yaml>,
    template: &Yaml,
    scratch: &TempDir,
) -> (Vec<String>, BTreeMap<String, String>) {
    let pod = &template["spec"];
    let container = &pod["containers"][0];
    // A ConfigMap's data or a Secret's stringData, once its name is checked.
    let keys_of = |kind: &str, name: &Yaml| -> Vec<(String, String)> {
        let object = &objects[kind];
        assert_eq!(&object["metadata"]["name"], name, "the {kind}'s name");
        let data = if kind == "Secret" {
            "stringData"
        } else {
            "data"
        };
        object[data]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(key, value)| (str_of(key, kind).to_owned(), str_of(value, kind).to_owned()))
            .collect()
    };

    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        env.extend(keys_of("Secret", &source["secretRef"]["name"]));
    }
    for variable in container["env"].as_sequence().into_iter().flatten() {
        env.insert(
            str_of(&variable["name"], "env").to_owned(),
            str_of(&variable["value"], "env").to_owned(),
        );
    }

    let mut files = BTreeMap::new();
    for mount in container["volumeMounts"].as_sequence().unwrap() {
        let name = str_of(&mount["name"], "volumeMounts");
        let volume = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"));
        let sources: Vec<&Yaml> = match volume["projected"]["sources"].as_sequence() {
            Some(sources) => sources.iter().collect(),
            None => vec![volume],
        };
        let folder = scratch.path().join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for source in sources {
            let keys = if source["configMap"].is_mapping() {
                keys_of("ConfigMap", &source["configMap"]["name"])
            } else if source["secret"].is_mapping() {
                // A volume names its Secret `secretName`; a projected source, `name`.
                let secret = &source["secret"];
                let name = match &secret["secretName"] {
                    Yaml::Null => &secret["name"],
                    name => name,
                };
                keys_of("Secret", name)
            } else {
                panic!("volume {name}: neither a ConfigMap nor a Secret: {source:?}")
            };
            for (key, text) in keys {
                let file = folder.join(&key);
                std::fs::write(&file, text).unwrap();
                let mounted = format!("{}/{key}", str_of(&mount["mountPath"], "mountPath"));
                files.insert(mounted, file.to_string_lossy().into_owned());
            }
        }
    }
    let args = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            let arg = str_of(a, "args");
            files.get(arg).cloned().unwrap_or_else(|| arg.to_owned())
        })
        .collect();
    (args, env)
}

/// Whether every label of `selector` is one of `labels`.
fn selects(selector: &Yaml, labels: &Yaml) -> bool {
    let selector = selector.as_mapping().unwrap();
    !selector.is_empty() && selector.iter().all(|(key, value)| &labels[key] == value)
}

/// The Service of `objects` selects the pods of `template`, its ServiceMonitor scrapes it
/// by its labels and port name, every 15 s as deploy/prometheus/prometheus.yml does.
fn assert_scraped(dir: &str, objects: &BTreeMap<String, Yaml>, template: &Yaml) {
    let service = &objects["Service"];
    let pod_labels = &template["metadata"]["labels"];
    assert!(
        selects(&service["spec"]["selector"], pod_labels),
        "{dir}: the Service selects the pods"
    );
    let port = &service["spec"]["ports"][0];
    assert_eq!(port["targetPort"], "metrics", "{dir}");
    let monitor = &objects["ServiceMonitor"]["spec"];
    assert!(
        selects(
            &monitor["selector"]["matchLabels"],
            &service["metadata"]["labels"]
        ),
        "{dir}: the ServiceMonitor selects the Service by its labels"
    );
    let endpoint = &monitor["endpoints"][0];
    assert_eq!(endpoint["port"], port["name"], "{dir}");
    assert_eq!(endpoint["path"], "/metrics", "{dir}");
    // The alert rules match job="genesys-exporter", the Service's name.
    assert_eq!(service["metadata"]["name"], "genesys-exporter", "{dir}");
    let config = yaml("deploy/prometheus/prometheus.yml");
    assert_eq!(
        endpoint["interval"], config["global"]["scrape_interval"],
        "{dir}"
    );
}

#[test]
fn the_kubernetes_deployment_configures_the_exporter_and_probes_it() {
    let objects = kubernetes_objects(KUBERNETES);
    let kinds: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Deployment",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceMonitor"
        ]
    );
    let deployment = &objects["Deployment"];
    let template = &deployment["spec"]["template"];
    let pod = &template["spec"];
    let container = &pod["containers"][0];
    // The log level is a flag, not RUST_LOG, which would override it.
    assert!(
        container["env"]
            .as_sequence()
            .is_none_or(|env| { env.iter().all(|variable| variable["name"] != "RUST_LOG") })
    );
    let scratch = temp_dir();
    let (args, env) = pod_command(&objects, template, &scratch);
    assert!(
        args.iter()
            .any(|a| a.starts_with(&*scratch.path().to_string_lossy()))
    );
    assert!(args.contains(&"--log.level=info".to_owned()), "{args:?}");
    let log = check_config("deploy/kubernetes/deployment.yaml", &args, &env);
    assert!(log.contains("2 queries (default, live)"), "{log}");

    // Probes, ports and the objects that point at each other.
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let port = &container["ports"][0];
    assert_eq!(port["name"], "metrics");
    let listen_port: u64 = DEFAULT_LISTEN.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(port["containerPort"].as_u64(), Some(listen_port));
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1));
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_scraped(KUBERNETES, &objects, template);
}

/// The StatefulSet's replicas and the value of its container's `--total-shards=`.
fn pods_and_shards(statefulset: &Yaml) -> (u64, u64) {
    let replicas = statefulset["spec"]["replicas"].as_u64().unwrap();
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let shards: Vec<u64> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|arg| str_of(arg, "args").strip_prefix("--total-shards="))
        .map(|total| total.parse().unwrap())
        .collect();
    assert_eq!(shards.len(), 1, "one --total-shards=M: {container:?}");
    (replicas, shards[0])
}

#[test]
fn the_sharded_statefulset_runs_as_many_pods_as_shards_set_in_one_place() {
    // In the files, and in what kubectl builds from them.
    let statefulset = &kubernetes_objects(SHARDED)["StatefulSet"];
    let (pods, shards) = pods_and_shards(statefulset);
    assert_eq!((pods, shards), (3, 3));
    // One place: the two lines a few apart under one comment, which says to change both.
    let file = format!("{SHARDED}/statefulset.yaml");
    let text = read(&file);
    let line_of = |needle: &str| {
        let lines: Vec<usize> = (text.lines().enumerate())
            .filter(|(_, line)| line.trim_start().starts_with(needle))
            .map(|(number, _)| number)
            .collect();
        assert_eq!(lines.len(), 1, "{file}: one line of {needle}");
        lines[0]
    };
    let (replicas, total_shards) = (line_of("replicas:"), line_of("- --total-shards="));
    assert!(
        replicas < total_shards && total_shards - replicas <= 6,
        "{file}: replicas (line {}) and --total-shards (line {}) side by side",
        replicas + 1,
        total_shards + 1
    );
    let comment = text.lines().nth(replicas - 1).unwrap();
    assert!(
        comment.contains("checks that the two are equal"),
        "{comment}"
    );
    // The docs say so too.
    let deployment = read("docs/deployment.md");
    let section: Vec<&str> = deployment
        .split("## Sharded on Kubernetes")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/deployment.md: no ## Sharded on Kubernetes"))
        .split_whitespace()
        .collect();
    let section = section.join(" ");
    assert!(
        section.contains("`replicas` and `--total-shards` together"),
        "docs/deployment.md says to change replicas and --total-shards together"
    );

    let Some((_, built)) = kustomize(SHARDED) else {
        return;
    };
    let statefulset = built.iter().find(|o| o["kind"] == "StatefulSet").unwrap();
    let (pods, shards) = pods_and_shards(statefulset);
    assert_eq!(
        pods, shards,
        "kubectl kustomize {SHARDED}: replicas and --total-shards"
    );
}

#[test]
fn each_shard_of_the_statefulset_runs_its_own_orgs_with_their_secrets() {
    let objects = kubernetes_objects(SHARDED);
    let kinds: Vec<&str> = objects.keys().map(String::as_str).collect();
    // The rules are the single process's PrometheusRule, applied beside (the docs say so).
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceMonitor",
            "StatefulSet"
        ]
    );
    let statefulset = &objects["StatefulSet"];
    let name = str_of(&statefulset["metadata"]["name"], "name");
    let template = &statefulset["spec"]["template"];
    let (pods, shards) = pods_and_shards(statefulset);
    let scratch = temp_dir();
    let (args, env) = pod_command(&objects, template, &scratch);
    assert!(
        args.contains(&"--shard-from-hostname".to_owned()),
        "{args:?}"
    );

    // The orgs' shards: FNV-1a 64 of the name, modulo 3, computed apart from the exporter:
    //   python3 -c 'import functools as f; print([f.reduce(lambda h, b: (h ^ b) *
    //     0x100000001b3 % 2**64, n.encode(), 0xcbf29ce484222325) % 3 for n in
    //     ["customer-a", "customer-b", "customer-c", "customer-d"]])'   → [2, 0, 1, 0]
    // Every shard runs one org at least.
    let expected = [
        ("customer-a", 2_u64),
        ("customer-b", 0),
        ("customer-c", 1),
        ("customer-d", 0),
    ];
    let config: toml::Table = toml::from_str(str_of(
        &objects["ConfigMap"]["data"]["genesys.toml"],
        "data",
    ))
    .unwrap();
    let orgs: Vec<&str> = config["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|org| org["name"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, expected.map(|(org, _)| org));

    // Each pod, as its host name gives it its shard: the host name of a StatefulSet's pod
    // is the pod's name, NAME-ORDINAL. Kubernetes cannot run here, nor can the test set
    // the host name, so the pod's --shard-from-hostname becomes the --shard it reads.
    let mut polled = Vec::new();
    for ordinal in 0..pods {
        let host_name = format!("{name}-{ordinal}");
        let shard = ordinal_of_host_name(&host_name).unwrap();
        assert_eq!(u64::from(shard), ordinal, "{host_name}");
        let args: Vec<String> = args
            .iter()
            .map(|arg| match arg.as_str() {
                "--shard-from-hostname" => format!("--shard={shard}"),
                _ => arg.clone(),
            })
            .collect();
        let log = check_config(&format!("{SHARDED}, pod {host_name}"), &args, &env);
        for (org, of) in expected {
            let line = format!("org {org}: shard {of} of {shards}");
            assert!(log.lines().any(|l| l.ends_with(&line)), "{line}:\n{log}");
        }
        let runs: Vec<&str> = expected
            .iter()
            .filter(|(_, of)| *of == ordinal)
            .map(|(org, _)| *org)
            .collect();
        let line = format!(
            "this process, shard {shard} of {shards}, would run: {}",
            runs.join(", ")
        );
        assert!(log.lines().any(|l| l.ends_with(&line)), "{line}:\n{log}");
        assert!(log.contains("2 queries (default, live)"), "{log}");
        polled.extend(runs);
    }
    polled.sort_unstable();
    assert_eq!(polled, orgs, "every org on exactly one pod");

    // Hardened and probed as the single process's Deployment is.
    let single = &kubernetes_objects(KUBERNETES)["Deployment"]["spec"]["template"]["spec"];
    let pod = &template["spec"];
    for key in ["securityContext", "automountServiceAccountToken"] {
        assert_eq!(pod[key], single[key], "the pod's {key}");
    }
    let (container, single) = (&pod["containers"][0], &single["containers"][0]);
    for key in [
        "image",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
    ] {
        assert!(!container[key].is_null(), "the container's {key}");
        assert_eq!(container[key], single[key], "the container's {key}");
    }

    // Started side by side, each with its DNS name from the headless Service, which the
    // ServiceMonitor scrapes endpoint by endpoint: every pod.
    let spec = &statefulset["spec"];
    assert_eq!(spec["podManagementPolicy"], "Parallel");
    assert_eq!(spec["serviceName"], objects["Service"]["metadata"]["name"]);
    assert_eq!(objects["Service"]["spec"]["clusterIP"], "None");
    assert!(selects(
        &spec["selector"]["matchLabels"],
        &template["metadata"]["labels"]
    ));
    assert_scraped(SHARDED, &objects, template);

    // A drain takes one shard at a time.
    let budget = &objects["PodDisruptionBudget"];
    assert_eq!(budget["apiVersion"], "policy/v1");
    assert_eq!(budget["spec"]["maxUnavailable"].as_u64(), Some(1));
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        spec["selector"]["matchLabels"]
    );
}

#[test]
fn the_prometheus_rule_holds_the_shipped_rules() {
    let objects = kubernetes_objects(KUBERNETES);
    let mut shipped = Vec::new();
    for file in ["recording.rules.yml", "alerts.rules.yml"] {
        let rules = yaml(&format!("deploy/prometheus/{file}"));
        shipped.extend(rules["groups"].as_sequence().unwrap().iter().cloned());
    }
    let in_kubernetes = objects["PrometheusRule"]["spec"]["groups"]
        .as_sequence()
        .unwrap();
    assert_eq!(
        in_kubernetes, &shipped,
        "deploy/kubernetes/prometheusrule.yaml must hold deploy/prometheus/*.rules.yml as they are"
    );
}

/// The systemd unit as (section, key) → values, in order.
fn systemd_unit(text: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut entries: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not key=value: {line}", number + 1));
        assert!(
            !section.is_empty(),
            "line {}: outside a section",
            number + 1
        );
        entries
            .entry((section.clone(), key.to_owned()))
            .or_default()
            .push(value.to_owned());
    }
    entries
}

#[test]
fn the_systemd_unit_runs_the_exporter_with_a_valid_configuration() {
    const UNIT: &str = "deploy/systemd/genesys-exporter.service";
    let text = read(UNIT);
    let unit = systemd_unit(&text);
    let get = |section: &str, key: &str| -> &Vec<String> {
        unit.get(&(section.to_owned(), key.to_owned()))
            .unwrap_or_else(|| panic!("{UNIT}: no {key}= in [{section}]"))
    };
    let sections: BTreeSet<&str> = unit.keys().map(|(s, _)| s.as_str()).collect();
    assert_eq!(sections, BTreeSet::from(["Install", "Service", "Unit"]));
    assert_eq!(get("Install", "WantedBy"), &["multi-user.target"]);
    assert_eq!(get("Service", "DynamicUser"), &["yes"]);
    assert_eq!(get("Service", "RestartPreventExitStatus"), &["2"]);

    // Replay ExecStart: the config file is the example the comment says to install, and
    // %d (the credentials directory) holds the secret that LoadCredential names.
    let scratch = temp_dir();
    let credentials = scratch.path().to_string_lossy().into_owned();
    let (credential, source) = get("Service", "LoadCredential")[0].split_once(':').unwrap();
    assert_eq!(source, "/etc/genesys-exporter/client_secret");
    write_file(&scratch, credential, "s3cret\n");
    assert!(text.contains("deploy/config.example.toml /etc/genesys-exporter/genesys.toml"));
    let files = BTreeMap::from([(
        "/etc/genesys-exporter/genesys.toml",
        path("deploy/config.example.toml")
            .to_string_lossy()
            .into_owned(),
    )]);
    let exec: Vec<&str> = get("Service", "ExecStart")[0].split_whitespace().collect();
    assert_eq!(exec[0], "/usr/local/bin/genesys-exporter");
    let args: Vec<String> = exec[1..]
        .iter()
        .map(|a| files.get(a).cloned().unwrap_or_else(|| a.to_string()))
        .collect();
    let env: BTreeMap<String, String> = get("Service", "Environment")
        .iter()
        .map(|assignment| {
            let (name, value) = assignment.split_once('=').unwrap();
            (name.to_owned(), value.replace("%d", &credentials))
        })
        .collect();
    assert!(env.contains_key("GENESYS_EXPORTER_CLIENT_SECRET_FILE"));
    assert!(
        !env.contains_key("RUST_LOG"),
        "RUST_LOG would override --log.level"
    );
    assert!(args.contains(&"--log.level=info".to_owned()), "{args:?}");
    let log = check_config(UNIT, &args, &env);
    assert!(log.contains("3 queries (queues, live, daily)"), "{log}");

    // Open files: the limit is set, and seccomp answers a filtered call (setrlimit is in
    // @resources) with an error rather than SIGSYS, so the exporter's raise fails softly.
    assert_eq!(get("Service", "LimitNOFILE"), &["65536"]);
    assert!(
        get("Service", "SystemCallFilter")
            .iter()
            .any(|f| f.starts_with('~')
                && f.split_whitespace()
                    .any(|g| g.trim_start_matches('~') == "@resources")),
        "{UNIT}: SystemCallFilter=~@resources"
    );
    assert_eq!(get("Service", "SystemCallErrorNumber"), &["EPERM"]);

    // systemd's own linter and its security review, with ExecStart pointing at a binary
    // that exists. Under CI systemd-analyze must be there (.ci/run installs it).
    let Some(analyze) = required_tool("systemd-analyze", "--version", "apt-get install systemd")
    else {
        return;
    };
    let copy = write_file(
        &scratch,
        "genesys-exporter.service",
        &text.replace(
            "/usr/local/bin/genesys-exporter",
            env!("CARGO_BIN_EXE_genesys-exporter"),
        ),
    );
    let run = |args: &[&str]| {
        let (passed, said) = run_on(analyze, args, &copy);
        assert!(passed, "systemd-analyze {args:?}: {said}");
        said
    };
    let said = run(&["verify"]);
    assert_eq!(
        said.trim(),
        "",
        "systemd-analyze verify had something to say"
    );
    // An exposure of at most 2.0 of 10 ("OK"); it fails above the threshold.
    let said = run(&["security", "--offline=true", "--threshold=20"]);
    for kept in [
        "SystemCallFilter=~@resources",
        "SystemCallFilter=~@privileged",
    ] {
        assert!(
            said.lines()
                .any(|l| l.contains(kept) && l.trim_start().starts_with('✓')),
            "systemd-analyze security: {kept} is not in force:\n{said}"
        );
    }
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let text = read("deploy/Dockerfile");
    let instructions: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| *i == "FROM")
        .map(|(_, rest)| *rest)
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(
        froms[1].starts_with("gcr.io/distroless/"),
        "distroless runtime: {froms:?}"
    );
    let runtime: Vec<(&str, &str)> = instructions
        .iter()
        .skip_while(|(i, rest)| !(*i == "FROM" && *rest == froms[1]))
        .copied()
        .collect();
    let value = |name: &str| {
        runtime
            .iter()
            .find(|(i, _)| *i == name)
            .unwrap_or_else(|| panic!("no {name} in the runtime stage"))
            .1
    };
    let user = value("USER").split(':').next().unwrap();
    assert!(user.parse::<u32>().is_ok_and(|uid| uid > 0), "USER {user}");
    let copied_to = value("COPY").split_whitespace().last().unwrap();
    assert_eq!(value("ENTRYPOINT"), format!("[\"{copied_to}\"]"));
    assert_eq!(
        value("EXPOSE"),
        DEFAULT_LISTEN.rsplit(':').next().unwrap(),
        "EXPOSE the default listen port"
    );
    // The build stage copies what cargo needs, and .dockerignore keeps target/ out.
    for needed in [
        "COPY Cargo.toml Cargo.lock build.rs ./",
        "COPY src ./src",
        "--locked",
    ] {
        assert!(text.contains(needed), "{needed}");
    }
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "target/"));
}

/// The Dockerfile's instructions up to the second `FROM` (the build stage), continuation
/// lines joined and comments left out: (instruction, its arguments).
fn build_stage() -> Vec<(String, String)> {
    let text = read("deploy/Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        current.push_str(trimmed.trim_end_matches('\\').trim());
        current.push(' ');
        if !trimmed.ends_with('\\') {
            let (instruction, arguments) = current.trim().split_once(' ').unwrap();
            instructions.push((instruction.to_owned(), arguments.to_owned()));
            current.clear();
        }
    }
    instructions
        .into_iter()
        .skip(1)
        .take_while(|(instruction, _)| instruction != "FROM")
        .collect()
}

/// Copies `from` (a file, or a folder's contents) to `to`, leaving out what
/// .dockerignore names.
fn copy_as_docker_does(from: &Path, to: &Path, ignored: &[String]) {
    let name = from.file_name().unwrap().to_string_lossy();
    if ignored.iter().any(|ignored| *ignored == name) {
        return;
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap().path();
            copy_as_docker_does(&entry, &to.join(entry.file_name().unwrap()), ignored);
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// The image is built from what the build stage's COPY lines copy, and nothing else: so
/// this replays that context in a temporary folder and runs the stage's cargo command
/// there, offline, with this machine's cargo registry and a target folder of its own.
/// A whole release build takes minutes, too long for the test suite: the command runs
/// until cargo starts compiling, by when it has read the manifest and every target it
/// names (where the missing benches/ and tests/ failed), checked Cargo.lock (`--locked`)
/// and found every package offline; then it is stopped. What cargo reads later, the
/// files `include_str!` names, are checked to be in the context.
#[test]
fn the_dockerfiles_build_context_builds_offline() {
    let stage = build_stage();
    let argument = |name: &str| {
        stage
            .iter()
            .filter(|(instruction, _)| instruction == name)
            .map(|(_, arguments)| arguments.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(argument("WORKDIR"), ["/src"]);
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|line| line.trim().trim_end_matches('/').to_owned())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let context = temp_dir();
    for copy in argument("COPY") {
        let words: Vec<&str> = copy.split_whitespace().collect();
        assert!(
            !words[0].starts_with("--"),
            "COPY {copy}: no flags in the build stage"
        );
        let (destination, sources) = words.split_last().unwrap();
        let destination = context.path().join(destination.trim_start_matches("./"));
        for source in sources {
            let from = path(source);
            let to = if destination.to_string_lossy().ends_with('/') || sources.len() > 1 {
                destination.join(from.file_name().unwrap())
            } else {
                destination.clone()
            };
            copy_as_docker_does(&from, &to, &ignored);
        }
    }
    // The commit and branch, which build.rs reads from the environment without a .git, can
    // be given as build arguments (a RUN sees them as variables).
    let build_rs = read("build.rs");
    for name in ["EXPORTER_BUILD_REVISION", "EXPORTER_BUILD_BRANCH"] {
        assert!(argument("ARG").contains(&name), "ARG {name}");
        assert!(
            build_rs.contains(&format!("from_env(\"{name}\")")),
            "build.rs reads {name}"
        );
    }
    let run = argument("RUN").join(" ");
    let cargo: Vec<&str> = run
        .split_whitespace()
        .skip_while(|word| *word != "cargo")
        .take_while(|word| *word != "&&")
        .collect();
    assert_eq!(
        cargo,
        ["cargo", "build", "--release", "--locked"],
        "RUN {run}"
    );

    // What src/ and the crates include at compile time, outside their tests, is in the
    // context.
    let sources = ["src", "crates"].map(|dir| files_under(dir, &[".rs"]));
    for file in sources.into_iter().flatten() {
        let source = read(&file);
        let code = source.split("#[cfg(test)]").next().unwrap();
        let includes = ["include_str!(\"", "include_bytes!(\""]
            .into_iter()
            .flat_map(|macro_call| code.split(macro_call).skip(1));
        for include in includes {
            let included = include.split('"').next().unwrap();
            let at = context.path().join(&file).parent().unwrap().join(included);
            assert!(
                at.exists(),
                "{file} includes {included}, not in the build context"
            );
        }
    }

    let target = temp_dir();
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(&cargo[1..])
        .arg("--offline")
        .current_dir(context.path())
        .env("CARGO_TARGET_DIR", target.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // Its own process group, so that stopping it stops the compilers it started.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut compiling = false;
    for line in std::io::BufRead::lines(stderr) {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.trim_start().starts_with("Compiling ") {
            compiling = true;
            break;
        }
    }
    if compiling {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    }
    let status = child.wait().unwrap();
    assert!(
        compiling || status.success(),
        "{cargo:?} --offline in the Dockerfile's build context:\n{said}"
    );
}

// -- Rules and their tests -----------------------------------------------------------------

/// A Prometheus duration such as `25m`, `4m15s` or `90s`, in seconds.
fn duration_seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => panic!("{text}: unit {c}"),
        };
        total += number.parse::<u64>().unwrap_or_else(|_| panic!("{text}")) * unit;
        number.clear();
    }
    assert!(number.is_empty(), "{text}: a number without a unit");
    total
}

#[test]
fn every_alert_is_documented_and_has_unit_tests_that_fire_and_resolve() {
    let rules = yaml("deploy/prometheus/alerts.rules.yml");
    let test_files = files_under("deploy/prometheus", &[".test.yml"]);
    assert_eq!(
        test_files,
        [
            "deploy/prometheus/alerts.test.yml",
            "deploy/prometheus/live.test.yml",
            "deploy/prometheus/orgs.test.yml",
            "deploy/prometheus/sources.test.yml",
            "deploy/prometheus/voice.test.yml"
        ]
    );
    let tests: Vec<Yaml> = test_files.iter().map(|file| yaml(file)).collect();
    let docs = read("docs/alerts.md");
    let headings = anchors(&docs);
    // The severity of each alert, as docs/alerts.md's table gives it.
    let documented: BTreeMap<String, String> =
        table_rows(&docs, "| alert | fires when | for | severity |")
            .into_iter()
            .map(|row| (row[0].trim_matches('`').to_owned(), row[3].clone()))
            .collect();
    let mut alerts = Vec::new();
    let mut runbook_bases = BTreeSet::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = str_of(&rule["alert"], "alert");
            alerts.push(name);
            for annotation in ["summary", "description", "runbook_url"] {
                assert!(
                    rule["annotations"][annotation].is_string(),
                    "{name}: no {annotation}"
                );
            }
            assert!(
                rule["annotations"]["runbook"].is_null(),
                "{name}: the runbook's prose belongs in docs/alerts.md"
            );
            // The runbook_url leads to the alert's own section of docs/alerts.md.
            let url = str_of(&rule["annotations"]["runbook_url"], "runbook_url");
            let (base, anchor) = url
                .split_once('#')
                .unwrap_or_else(|| panic!("{name}: {url} has no #anchor"));
            assert!(
                base.starts_with("https://") && base.ends_with("/docs/alerts.md"),
                "{name}: {url}"
            );
            runbook_bases.insert(base.to_owned());
            assert_eq!(anchor, slug(name), "{name}: its own section");
            assert!(
                headings.contains(anchor),
                "{name}: docs/alerts.md has no heading #{anchor}"
            );
            // Severity: the live alerts page, the bucket alerts go to tickets, as
            // docs/alerts.md documents each one.
            let severity = str_of(&rule["labels"]["severity"], "severity");
            assert_eq!(
                documented.get(name).map(|s| s.trim_matches('`')),
                Some(severity),
                "{name}: severity in alerts.rules.yml and docs/alerts.md"
            );
            let expr = str_of(&rule["expr"], "expr");
            let expected = if expr.contains("unless on (org, query) genesys_query_window_seconds") {
                Some("warning") // a bucket alert
            } else if expr.contains("and on (org, query) genesys_query_window_seconds")
                || expr.contains("genesys_queue_")
            {
                Some("critical") // a live alert: a rolling window or the observations
            } else {
                None
            };
            if let Some(expected) = expected {
                assert_eq!(severity, expected, "{name}");
            }
        }
    }
    assert_eq!(
        runbook_bases.len(),
        1,
        "one base for every runbook_url: {runbook_bases:?}"
    );
    // An alert may have several rules (GenesysVoiceQualityPoor: per queue and per Edge),
    // and one row in the table.
    let names: BTreeSet<&str> = alerts.iter().copied().collect();
    assert_eq!(
        documented
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        names,
        "docs/alerts.md's table lists every alert"
    );
    assert_eq!((alerts.len(), names.len()), (23, 22));
    for alert in names {
        // (eval time in seconds, fired?) for each test case of this alert, per test.
        let mut fires_and_resolves = false;
        for test in tests.iter().flat_map(|t| t["tests"].as_sequence().unwrap()) {
            let mut cases: Vec<(u64, bool)> = Vec::new();
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                if case["alertname"] == alert {
                    let at = duration_seconds(str_of(&case["eval_time"], "eval_time"));
                    let fired = !case["exp_alerts"].as_sequence().unwrap().is_empty();
                    cases.push((at, fired));
                }
            }
            if let Some(fired_at) = cases.iter().filter(|(_, f)| *f).map(|(t, _)| *t).min() {
                fires_and_resolves |= cases.iter().any(|(t, fired)| !fired && *t > fired_at);
            }
        }
        assert!(
            fires_and_resolves,
            "{alert}: no test where it fires and then resolves"
        );
    }
}

// -- Dashboards ------------------------------------------------------------------------------

/// `$name` variables used in `text`.
fn variables_used(text: &str) -> BTreeSet<String> {
    text.split('$')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The selectors `{...}` that follow each use of a metric whose name starts with one of
/// `prefixes`.
fn selectors<'a>(expr: &'a str, prefixes: &[&str]) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    for prefix in prefixes {
        for (at, _) in expr.match_indices(prefix) {
            if at > 0
                && expr[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let rest = &expr[at..];
            let name_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let selector = rest[name_end..]
                .strip_prefix('{')
                .and_then(|s| s.split_once('}'))
                .map(|(inside, _)| inside)
                .unwrap_or("");
            found.push((&rest[..name_end], selector));
        }
    }
    found
}

/// The levels of the queues' recording rules (`level:metric:operation`), each by `org`
/// and more.
const QUEUE_RULE_LEVELS: [&str; 3] = ["queue_media_type:", "queue:", "media_type:"];

/// Where series carry `org` (with `[[orgs]]` configured): every exporter series but the
/// process-wide `genesys_exporter_*`, and the recording rules, which keep it.
fn org_scoped_prefixes() -> Vec<&'static str> {
    let mut prefixes = vec!["genesys_"];
    prefixes.extend(QUEUE_RULE_LEVELS);
    prefixes.extend(SOURCE_RULE_LEVELS);
    prefixes
}

/// The org-scoped metrics `expr` reads.
fn org_scoped_selectors(expr: &str) -> Vec<(&str, &str)> {
    selectors(expr, &org_scoped_prefixes())
        .into_iter()
        .filter(|(metric, _)| !metric.starts_with("genesys_exporter_"))
        .collect()
}

/// The label lists of each `by (...)` in `expr`.
fn by_clauses(expr: &str) -> Vec<Vec<&str>> {
    expr.split("by (")
        .skip(1)
        .map(|rest| {
            rest.split(')')
                .next()
                .unwrap()
                .split(',')
                .map(str::trim)
                .collect()
        })
        .collect()
}

/// The queue observations' gauges that come per queue and media type.
const OBSERVED_PER_MEDIA_TYPE: [&str; 5] = [
    "genesys_queue_waiting",
    "genesys_queue_interacting",
    "genesys_queue_alerting",
    "genesys_queue_longest_waiting_seconds",
    "genesys_queue_longest_interacting_seconds",
];

/// The queue observations' users gauges, which come per queue only (no media_type).
const OBSERVED_PER_QUEUE: [&str; 6] = [
    "genesys_queue_on_queue_users",
    "genesys_queue_off_queue_users",
    "genesys_queue_active_users",
    "genesys_queue_member_users",
    "genesys_queue_user_routing_statuses",
    "genesys_queue_user_presences",
];

/// The recording rule levels of the agents, flows, data actions and voice quality.
const SOURCE_RULE_LEVELS: [&str; 6] = [
    "division:",
    "flow:",
    "flow_outcome:",
    "action:",
    "voice_queue:",
    "voice_edge:",
];

/// The series of the agents, flows, data actions, voice quality and telephony.
const SOURCE_SERIES: [&str; 6] = [
    "genesys_agents_",
    "genesys_flow",
    "genesys_data_action_",
    "genesys_voice_",
    "genesys_edge_",
    "genesys_trunk_",
];

/// The series of the sources beyond the queues, and their recording rules.
fn source_prefixes() -> Vec<&'static str> {
    SOURCE_SERIES
        .into_iter()
        .chain(SOURCE_RULE_LEVELS)
        .collect()
}

/// What a dashboard's selector of `metric`, one of [`source_prefixes`], must contain: each
/// filter, as one of its ways of writing it.
fn source_filters(metric: &str) -> Vec<Vec<&'static str>> {
    if metric.starts_with("genesys_agents_") || metric.starts_with("division:") {
        // The agent states come once per breakdown of [agents] `by` (the org, each
        // division, team and queue); a selector that left the breakdown open would add
        // the same agents up several times.
        vec![
            vec!["query=\"agents\""],
            vec!["division_id", "team_id", "queue_id"],
        ]
    } else if metric == "genesys_voice_read_ratio" {
        vec![vec!["query=\"voice_quality\""]]
    } else if metric.starts_with("genesys_voice_") {
        // Each call is observed once per queue and once per Edge: a selector that left
        // the label set open would count every call twice.
        vec![
            vec!["queue_id!=\"\"", "edge_id!=\"\""],
            vec!["queue=~\"$queue\"", "edge=~\"$edge\""],
        ]
    } else if metric.starts_with("voice_queue:") {
        vec![vec!["queue=~\"$queue\""]]
    } else if metric.starts_with("voice_edge:") {
        vec![vec!["edge=~\"$edge\""]]
    } else if metric.starts_with("genesys_edge_") || metric.starts_with("genesys_trunk_") {
        vec![vec!["query=\"telephony\""], vec!["edge=~\"$edge\""]]
    } else if metric == "genesys_flow_conversations" {
        vec![vec!["query=\"flow_observations\""], vec!["flow=~\"$flow\""]]
    } else if metric.starts_with("genesys_flow") || metric.starts_with("flow") {
        vec![vec!["query=\"$flow_query\""], vec!["flow=~\"$flow\""]]
    } else {
        vec![vec!["query=\"$action_query\""], vec!["action=~\"$action\""]]
    }
}

#[test]
fn the_dashboards_are_ready_for_provisioning() {
    let mut uids = BTreeSet::new();
    let mut metrics_used = BTreeSet::new();
    let datasource = serde_json::json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
    for (file, board) in dashboards() {
        assert!(
            uids.insert(board["uid"].as_str().unwrap().to_owned()),
            "{file}: uid"
        );
        assert!(board["title"].is_string(), "{file}: title");
        let variables = board["templating"]["list"].as_array().unwrap();
        let names: Vec<&str> = variables
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        // Every dashboard chooses its Prometheus and its orgs; one that reads the queues'
        // conversations or observations chooses the query, media type and queue too.
        let exprs: Vec<&str> = panels(&board)
            .into_iter()
            .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
            .map(|target| target["expr"].as_str().unwrap())
            .collect();
        let mut queue_prefixes = vec!["genesys_conversation_", "queue_media_type:", "queue:"];
        queue_prefixes.extend(OBSERVED_PER_MEDIA_TYPE);
        queue_prefixes.extend(OBSERVED_PER_QUEUE);
        let reads_queues = exprs
            .iter()
            .any(|expr| !selectors(expr, &queue_prefixes).is_empty());
        let mut required = vec!["DS_PROMETHEUS", "org"];
        if reads_queues {
            required.extend(["query", "media_type", "queue"]);
        }
        for required in required {
            assert!(names.contains(&required), "{file}: no ${required} variable");
        }
        let ds = &variables[0];
        assert_eq!(
            (&ds["name"], &ds["type"], &ds["query"]),
            (
                &"DS_PROMETHEUS".into(),
                &"datasource".into(),
                &"prometheus".into()
            ),
            "{file}"
        );
        // The org: All of them by default, any of them, and All (`.*`) also matches
        // series without an org label (a configuration without [[orgs]]).
        let org = &variables[1];
        assert_eq!(org["name"], "org", "{file}: $org comes first");
        assert_eq!(org["query"], "label_values(genesys_up, org)", "{file}");
        assert_eq!(
            (&org["includeAll"], &org["multi"], &org["allValue"]),
            (&true.into(), &true.into(), &".*".into()),
            "{file}: $org"
        );
        for variable in &variables[1..] {
            let name = variable["name"].as_str().unwrap();
            assert_eq!(variable["datasource"], datasource, "{file}: ${name}");
            if name != "org" {
                let query = variable["query"].as_str().unwrap();
                for (metric, selector) in org_scoped_selectors(query) {
                    assert!(
                        selector.contains("org=~\"$org\""),
                        "{file}: ${name}: {metric} is not filtered by org: {query}"
                    );
                }
            }
            if variable["includeAll"] == true {
                // ".*" also matches series without the label (before queue names resolve).
                assert_eq!(variable["allValue"], ".*", "{file}: ${name}");
            }
            for used in variables_used(variable["query"].as_str().unwrap()) {
                let defined_before = names.iter().position(|n| *n == used).unwrap()
                    < names.iter().position(|n| *n == name).unwrap();
                assert!(
                    defined_before,
                    "{file}: ${name} uses ${used} before it is defined"
                );
            }
        }

        let mut ids = BTreeSet::new();
        for panel in panels(&board) {
            let title = panel["title"].as_str().unwrap();
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{file}: panel id of {title}"
            );
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(
                x + w <= 24 && grid["h"].as_u64().unwrap() > 0,
                "{file}: {title} gridPos"
            );
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"], datasource, "{file}: {title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title} has no query");
            for target in targets {
                assert_eq!(target["datasource"], datasource, "{file}: {title}");
                let expr = target["expr"].as_str().unwrap();
                for used in variables_used(expr) {
                    assert!(
                        names.contains(&used.as_str()),
                        "{file}: {title} uses undefined ${used}"
                    );
                }
                // Every org-scoped metric is filtered by the chosen orgs, and every
                // aggregation of them keeps org apart.
                let org_scoped = org_scoped_selectors(expr);
                for (metric, selector) in &org_scoped {
                    assert!(
                        selector.contains("org=~\"$org\""),
                        "{file}: {title}: {metric} is not filtered by org=~\"$org\": {expr}"
                    );
                }
                if !org_scoped.is_empty() {
                    for labels in by_clauses(expr) {
                        assert!(
                            labels.contains(&"org"),
                            "{file}: {title}: by ({}) without org: {expr}",
                            labels.join(", ")
                        );
                    }
                }
                // Every conversation metric and per-queue recording rule is filtered by
                // the queue and, where it has one, the media type; conversation metrics by
                // the chosen query, queue observations by theirs.
                let mut prefixes = vec!["genesys_conversation_", "queue_media_type:", "queue:"];
                prefixes.extend(OBSERVED_PER_MEDIA_TYPE);
                prefixes.extend(OBSERVED_PER_QUEUE);
                for (metric, selector) in selectors(expr, &prefixes) {
                    metrics_used.insert(metric.to_owned());
                    let query = if metric.contains("genesys_queue_") {
                        "query=\"observations\""
                    } else {
                        "query=\"$query\""
                    };
                    let mut filters = vec![query, "\"$queue\""];
                    if !(metric.starts_with("queue:") || OBSERVED_PER_QUEUE.contains(&metric)) {
                        filters.push("media_type=~\"$media_type\"");
                    }
                    for filter in filters {
                        assert!(
                            selector.contains(filter),
                            "{file}: {title}: {metric} is not filtered by {filter}: {expr}"
                        );
                    }
                }
                // The sources beyond the queues, each filtered by its query and its own
                // variable.
                for (metric, selector) in selectors(expr, &source_prefixes()) {
                    metrics_used.insert(metric.to_owned());
                    for filter in source_filters(metric) {
                        assert!(
                            filter.iter().any(|f| selector.contains(f)),
                            "{file}: {title}: {metric} is not filtered by {}: {expr}",
                            filter.join(" or ")
                        );
                    }
                }
            }
        }
    }
    // The panels that break numbers down per queue read the per-queue recording rules.
    let recording = yaml("deploy/prometheus/recording.rules.yml");
    for group in recording["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let record = str_of(&rule["record"], "record");
            let per_entity = ["queue_media_type:", "queue:"]
                .into_iter()
                .chain(SOURCE_RULE_LEVELS)
                .any(|level| record.starts_with(level));
            if per_entity {
                assert!(metrics_used.contains(record), "no dashboard uses {record}");
            }
        }
    }
}

#[test]
fn the_age_of_the_last_good_poll_is_read_in_periods_of_the_query() {
    let (_, health) = dashboards()
        .into_iter()
        .find(|(file, _)| file == "genesys-exporter-health.json")
        .unwrap();
    let ages: Vec<&serde_json::Value> = panels(&health)
        .into_iter()
        .filter(|panel| {
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|target| {
                    target["expr"]
                        .as_str()
                        .unwrap()
                        .contains("genesys_last_success_timestamp_seconds")
                })
        })
        .collect();
    assert_eq!(
        ages.len(),
        1,
        "one panel shows the age of the last good poll"
    );
    let panel = ages[0];
    // The age divided by the query's own period: its bucket, or its rolling window.
    let expr: String = panel["targets"][0]["expr"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let selector = r#"{org=~"$org", job="$job", query="$query"}"#;
    assert_eq!(
        expr,
        format!(
            "(time() - genesys_last_success_timestamp_seconds{selector}) / (genesys_interval_end_timestamp_seconds{selector} - genesys_interval_start_timestamp_seconds{selector})"
        )
    );
    // Thresholds in periods: orange past 1.5, red where GenesysDataStale fires.
    let steps: Vec<Option<f64>> = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["value"].as_f64())
        .collect();
    let rules = read("deploy/prometheus/alerts.rules.yml");
    let stale = rules
        .split("- alert: GenesysDataStale")
        .nth(1)
        .unwrap()
        .split("- alert:")
        .next()
        .unwrap();
    let stale: String = stale.split_whitespace().collect::<Vec<_>>().join(" ");
    let factor: f64 = stale
        .split(" > ")
        .nth(1)
        .and_then(|rest| rest.split(" * (genesys_interval_end_timestamp_seconds - genesys_interval_start_timestamp_seconds)").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("GenesysDataStale: no `> N * (bucket length)`: {stale}"));
    assert_eq!(steps, [None, Some(1.5), Some(factor)]);
    assert_eq!(factor, 2.0);
    assert_eq!(panel["fieldConfig"]["defaults"]["unit"], "suffix:× period");
}

#[test]
fn grafana_provisions_the_dashboards_and_a_prometheus_datasource() {
    let provider = yaml("grafana/provisioning/dashboards/genesys.yml");
    assert_eq!(provider["apiVersion"].as_u64(), Some(1));
    let provider = &provider["providers"][0];
    assert_eq!(provider["type"], "file");
    assert!(provider["options"]["path"].is_string());
    let datasources = yaml("grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(datasources["apiVersion"].as_u64(), Some(1));
    let datasource = &datasources["datasources"][0];
    assert_eq!(datasource["type"], "prometheus");
    assert_eq!(datasource["access"], "proxy");
    assert_eq!(datasource["isDefault"], true);
}
