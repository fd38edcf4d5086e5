//! The deployment files under `deploy/`: they parse, the Kubernetes
//! manifests fit together, every variable they give the server is one it
//! reads, and nginx's upstream names the compose replicas. No services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_norway::Value;

use super::services::workspace;

/// Variables the server reads that `--help` does not list: the standard
/// AWS ones the object store client reads, the log filter, and the state
/// key (a secret, read from the environment only, never a flag).
const OTHER_KNOWN: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "RUST_LOG",
    "BK_MCP_STATE_KEY",
];

/// The compose file.
fn compose_path() -> PathBuf {
    workspace().join("deploy/docker-compose.yml")
}

/// `deploy/kubernetes/*.yaml`, sorted.
fn kubernetes_files() -> Vec<PathBuf> {
    let dir = workspace().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

/// A path relative to the workspace, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every document of a YAML file, with `<<` merge keys applied; empty
/// documents are left out.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", shown(path)));
    serde_norway::Deserializer::from_str(&text)
        .enumerate()
        .map(|(i, document)| {
            let mut value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{} (document {}): {e}", shown(path), i + 1));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{} (document {}): {e}", shown(path), i + 1));
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// A string at `value[key]`, or a panic naming `what`.
fn text<'a>(value: &'a Value, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: `{key}` is missing or not a string"))
}

/// The Kubernetes objects, with the file each came from.
fn manifests() -> Vec<(String, Value)> {
    kubernetes_files()
        .iter()
        .filter(|path| path.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .flat_map(|path| {
            documents(path)
                .into_iter()
                .map(move |doc| (shown(path), doc))
        })
        .collect()
}

/// The one object of `kind`.
fn one_of_kind<'a>(objects: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects
        .iter()
        .filter(|(_, doc)| doc["kind"].as_str() == Some(kind))
        .map(|(_, doc)| doc)
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind} in deploy/kubernetes");
    found[0]
}

/// The labels `selector` requires, as pairs.
fn label_pairs(selector: &Value, what: &str) -> BTreeMap<String, String> {
    let map = selector
        .as_mapping()
        .unwrap_or_else(|| panic!("{what}: not a mapping of labels"));
    assert!(!map.is_empty(), "{what}: selects nothing");
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("a label name").to_owned(),
                v.as_str()
                    .unwrap_or_else(|| panic!("{what}: label values are strings"))
                    .to_owned(),
            )
        })
        .collect()
}

/// Panics unless every label `selector` requires is on the pods.
fn assert_selects(
    selector: &BTreeMap<String, String>,
    pods: &BTreeMap<String, String>,
    what: &str,
) {
    for (key, value) in selector {
        assert_eq!(
            pods.get(key),
            Some(value),
            "{what} selects {key}={value}, which the Deployment's pods do not have ({pods:?})"
        );
    }
}

/// The variable names the server declares in its `--help`
/// (`[env: NAME]` or `[env: NAME=value]`), plus [`OTHER_KNOWN`].
fn known_variables() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = OTHER_KNOWN.iter().map(|s| (*s).to_owned()).collect();
    for args in [&["--help"][..], &["http", "--help"][..]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_bk-mcp-http"))
            .args(args)
            .output()
            .expect("bk-mcp-http runs");
        assert!(
            output.status.success(),
            "bk-mcp-http {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        let help = String::from_utf8_lossy(&output.stdout);
        for (_, rest) in help
            .match_indices("[env: ")
            .map(|(i, m)| help.split_at(i + m.len()))
        {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                known.insert(name);
            }
        }
    }
    for expected in ["BKLOG_CACHE_URL", "BK_MCP_REDIS_URL", "HTTP_LISTEN_ADDR"] {
        assert!(
            known.contains(expected),
            "--help did not list {expected}: its `[env: …]` format changed? Found: {known:?}"
        );
    }
    known
}

/// The variables in `used` the server does not read, each with where it
/// is used.
fn unknown_variables(used: &BTreeMap<String, String>, known: &BTreeSet<String>) -> Vec<String> {
    used.iter()
        .filter(|(name, _)| !known.contains(*name))
        .map(|(name, place)| format!("{name} (in {place})"))
        .collect()
}

/// The compose services that run bk-mcp-http, by name.
fn compose_replicas(compose: &Value) -> BTreeMap<String, Value> {
    let services = compose["services"]
        .as_mapping()
        .expect("docker-compose.yml: `services` is a mapping");
    let replicas: BTreeMap<String, Value> = services
        .iter()
        .filter(|(_, service)| {
            let entrypoint = match &service["entrypoint"] {
                Value::String(s) => s.clone(),
                Value::Sequence(parts) => parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            entrypoint.contains("bk-mcp-http")
        })
        .map(|(name, service)| {
            (
                name.as_str().expect("a service name").to_owned(),
                service.clone(),
            )
        })
        .collect();
    assert!(
        !replicas.is_empty(),
        "docker-compose.yml: no service has the entrypoint /usr/local/bin/bk-mcp-http"
    );
    replicas
}

/// A compose service's `environment`, a mapping or a list of `NAME=value`.
fn compose_environment(service: &Value, what: &str) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_norway::to_string(other)
                        .expect("a scalar")
                        .trim()
                        .to_owned(),
                };
                (k.as_str().expect("a variable name").to_owned(), value)
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = item
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: environment items are strings"));
                let (name, value) = item.split_once('=').unwrap_or((item, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect(),
        Value::Null => BTreeMap::new(),
        _ => panic!("{what}: `environment` is neither a mapping nor a list"),
    }
}

/// The port of a `host:port` address.
fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{address:?} has no port"))
}

/// The `server host:port` lines of nginx.conf's `upstream bk_mcp` block.
fn nginx_upstream() -> Vec<(String, u16)> {
    let path = workspace().join("deploy/nginx/nginx.conf");
    let conf = std::fs::read_to_string(&path).expect("deploy/nginx/nginx.conf");
    let mut servers = Vec::new();
    let mut inside = false;
    for line in conf.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with("upstream bk_mcp") {
            inside = true;
        } else if inside && line.starts_with('}') {
            break;
        } else if inside && let Some(rest) = line.strip_prefix("server ") {
            let address = rest
                .split_whitespace()
                .next()
                .expect("an address after `server`")
                .trim_end_matches(';');
            let (host, _) = address.rsplit_once(':').expect("server host:port");
            servers.push((host.to_owned(), port_of(address)));
        }
    }
    assert!(
        !servers.is_empty(),
        "nginx.conf: no `server` lines in `upstream bk_mcp`"
    );
    assert!(
        conf.contains("proxy_pass http://bk_mcp"),
        "nginx.conf does not proxy to the bk_mcp upstream"
    );
    servers
}

#[test]
fn every_yaml_file_parses() {
    let mut files = vec![compose_path()];
    files.extend(kubernetes_files());
    for file in &files {
        let docs = documents(file);
        assert!(!docs.is_empty(), "{} has no document", shown(file));
        for doc in &docs {
            assert!(
                doc.is_mapping(),
                "{}: a document is not a mapping",
                shown(file)
            );
        }
    }
}

#[test]
fn kubernetes_manifests_fit_together() {
    let objects = manifests();
    let kinds: BTreeSet<&str> = objects
        .iter()
        .map(|(file, doc)| text(doc, "kind", file))
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Secret",
    ] {
        assert!(kinds.contains(kind), "deploy/kubernetes has no {kind}");
    }

    // kustomization.yaml lists every manifest, and only existing ones.
    let dir = workspace().join("deploy/kubernetes");
    let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_sequence()
        .expect("kustomization.yaml: `resources` is a list")
        .iter()
        .map(|r| r.as_str().expect("a resource path").to_owned())
        .collect();
    let present: BTreeSet<String> = kubernetes_files()
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .filter(|name| name != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml's resources differ from the manifests in deploy/kubernetes"
    );

    // The Deployment: its pods, their port and probes.
    let deployment = one_of_kind(&objects, "Deployment");
    let name = text(&deployment["metadata"], "name", "the Deployment");
    let pod_labels = label_pairs(
        &deployment["spec"]["template"]["metadata"]["labels"],
        "the Deployment's pod labels",
    );
    assert_eq!(
        pod_labels.get("app.kubernetes.io/name").map(String::as_str),
        Some("bk-mcp")
    );
    assert_selects(
        &label_pairs(
            &deployment["spec"]["selector"]["matchLabels"],
            "the Deployment's selector",
        ),
        &pod_labels,
        "the Deployment",
    );
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("the Deployment has containers");
    assert_eq!(containers.len(), 1, "one container per pod");
    let container = &containers[0];
    let ports = container["ports"]
        .as_sequence()
        .expect("the container declares its port");
    let port = ports[0]["containerPort"]
        .as_u64()
        .expect("a numeric containerPort");
    let port_name = ports[0]["name"].as_str();
    // A probe's or Service's port, by number or by name.
    let is_container_port = |value: &Value| match value {
        Value::Number(n) => n.as_u64() == Some(port),
        Value::String(s) => Some(s.as_str()) == port_name || s.parse::<u64>().ok() == Some(port),
        _ => false,
    };
    for (probe, path) in [("readinessProbe", "/ready"), ("livenessProbe", "/health")] {
        let get = &container[probe]["httpGet"];
        assert!(
            get.is_mapping(),
            "the container's {probe} must be an httpGet probe (the image has no shell)"
        );
        assert_eq!(get["path"].as_str(), Some(path), "{probe} path");
        assert!(
            is_container_port(&get["port"]),
            "{probe} probes port {:?}, not the container's port {port}",
            get["port"]
        );
    }
    let env = container["env"]
        .as_sequence()
        .expect("the container has env");
    let listen = env
        .iter()
        .find(|var| var["name"].as_str() == Some("HTTP_LISTEN_ADDR"))
        .and_then(|var| var["value"].as_str())
        .expect("HTTP_LISTEN_ADDR is set (the default listens on localhost only)");
    assert_eq!(
        u64::from(port_of(listen)),
        port,
        "HTTP_LISTEN_ADDR and containerPort differ"
    );

    // The Service, the HPA and the PDB point at it.
    let service = one_of_kind(&objects, "Service");
    assert_selects(
        &label_pairs(&service["spec"]["selector"], "the Service's selector"),
        &pod_labels,
        "the Service",
    );
    let service_ports = service["spec"]["ports"]
        .as_sequence()
        .expect("the Service has ports");
    assert!(
        service_ports
            .iter()
            .any(|p| is_container_port(&p["targetPort"])),
        "no Service port targets the container's port {port}"
    );
    let hpa = one_of_kind(&objects, "HorizontalPodAutoscaler");
    assert_eq!(text(hpa, "apiVersion", "the HPA"), "autoscaling/v2");
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(
        target["kind"].as_str(),
        Some("Deployment"),
        "the HPA's target kind"
    );
    assert_eq!(target["name"].as_str(), Some(name), "the HPA's target");
    let pdb = one_of_kind(&objects, "PodDisruptionBudget");
    assert_eq!(text(pdb, "apiVersion", "the PDB"), "policy/v1");
    assert_selects(
        &label_pairs(
            &pdb["spec"]["selector"]["matchLabels"],
            "the PDB's selector",
        ),
        &pod_labels,
        "the PDB",
    );

    // The example Secret holds placeholders only.
    let secret = one_of_kind(&objects, "Secret");
    let data = secret["stringData"]
        .as_mapping()
        .expect("the Secret has stringData");
    for (key, value) in data {
        let value = value.as_str().unwrap_or_default();
        assert!(
            value.contains("REPLACE_ME"),
            "secret.yaml: {key:?} is not a REPLACE_ME placeholder"
        );
    }
}

#[test]
fn every_variable_is_one_the_server_reads() {
    let known = known_variables();

    // Kubernetes: the container's env, and the keys of the Secrets it takes
    // whole (envFrom).
    let objects = manifests();
    let mut used = BTreeMap::new();
    for (file, doc) in &objects {
        if doc["kind"].as_str() != Some("Deployment") {
            continue;
        }
        let containers = doc["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .expect("containers");
        for container in containers {
            for var in container["env"].as_sequence().into_iter().flatten() {
                used.entry(text(var, "name", file).to_owned())
                    .or_insert_with(|| file.clone());
            }
            for source in container["envFrom"].as_sequence().into_iter().flatten() {
                let secret_name = source["secretRef"]["name"].as_str().unwrap_or_else(|| {
                    panic!("{file}: envFrom takes Secrets only (no ConfigMap): {source:?}")
                });
                let (secret_file, secret) = objects
                    .iter()
                    .find(|(_, o)| {
                        o["kind"].as_str() == Some("Secret")
                            && o["metadata"]["name"].as_str() == Some(secret_name)
                    })
                    .unwrap_or_else(|| {
                        panic!("{file}: envFrom names Secret {secret_name}, not in the manifests")
                    });
                for section in ["stringData", "data"] {
                    for key in secret[section]
                        .as_mapping()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        used.entry(key.as_str().expect("a Secret key").to_owned())
                            .or_insert_with(|| secret_file.clone());
                    }
                }
            }
        }
    }
    assert!(!used.is_empty(), "the Deployment sets no variables");

    // Compose: the replicas' environment (the other services' are theirs).
    let compose = &documents(&compose_path())[0];
    for (name, service) in compose_replicas(compose) {
        let place = format!("deploy/docker-compose.yml, {name}");
        for variable in compose_environment(&service, &place).into_keys() {
            used.entry(variable).or_insert_with(|| place.clone());
        }
    }
    let unknown = unknown_variables(&used, &known);
    assert!(
        unknown.is_empty(),
        "variables the server does not read (a typo, or a flag that was renamed?): {}",
        unknown.join(", ")
    );
}

#[test]
fn unknown_variables_are_named() {
    let known: BTreeSet<String> = ["BK_MCP_REDIS_URL".to_owned()].into();
    let used: BTreeMap<String, String> = [
        ("BK_MCP_REDIS_URL".to_owned(), "a".to_owned()),
        ("BK_MCP_REDIS_ULR".to_owned(), "b".to_owned()),
    ]
    .into();
    assert_eq!(
        unknown_variables(&used, &known),
        ["BK_MCP_REDIS_ULR (in b)"],
        "the typo is named, with where it is"
    );
}

#[test]
fn nginx_upstream_is_the_compose_replicas() {
    let upstream = nginx_upstream();
    let compose = &documents(&compose_path())[0];
    let replicas = compose_replicas(compose);
    let upstream_hosts: BTreeSet<&str> = upstream.iter().map(|(h, _)| h.as_str()).collect();
    let replica_names: BTreeSet<&str> = replicas.keys().map(String::as_str).collect();
    assert_eq!(
        upstream_hosts, replica_names,
        "nginx.conf's upstream and docker-compose.yml's bk-mcp-http services differ"
    );
    for (name, service) in &replicas {
        let place = format!("docker-compose.yml, {name}");
        let env = compose_environment(service, &place);
        let listen = env
            .get("HTTP_LISTEN_ADDR")
            .unwrap_or_else(|| panic!("{place}: HTTP_LISTEN_ADDR is not set"));
        assert!(
            !listen.starts_with("localhost") && !listen.starts_with("127."),
            "{place}: {listen} is not reachable from nginx's container"
        );
        for (host, port) in upstream.iter().filter(|(host, _)| host == name) {
            assert_eq!(
                port_of(listen),
                *port,
                "{place} listens on {listen}, nginx sends {host} traffic to port {port}"
            );
        }
    }

    // nginx gets the repository's file, and the replicas the repository's
    // image.
    let nginx_mounts = compose["services"]["nginx"]["volumes"]
        .as_sequence()
        .expect("the nginx service mounts its configuration");
    assert!(
        nginx_mounts
            .iter()
            .filter_map(Value::as_str)
            .any(|m| m.starts_with("./nginx/nginx.conf:/etc/nginx/nginx.conf")),
        "the nginx service does not mount ./nginx/nginx.conf"
    );
    for (name, service) in &replicas {
        let context = service["build"]["context"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no build context"));
        assert!(
            workspace()
                .join("deploy")
                .join(context)
                .join("Dockerfile")
                .is_file(),
            "{name}: no Dockerfile in its build context {context}"
        );
    }
}
