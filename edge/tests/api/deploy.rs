//! Static checks of `deploy/` (no container engine runs here): the YAML
//! parses, images, ports and probe paths agree with each other and with the
//! binaries' defaults, and the Dockerfiles copy existing paths and build the
//! binaries they run.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;
use serde_norway::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Every document of a YAML file, with merge keys (`<<`) applied.
fn documents(path: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(&read(path))
        .map(|document| {
            let mut value =
                Value::deserialize(document).unwrap_or_else(|err| panic!("{path}: {err}"));
            value.apply_merge().expect("merge keys apply");
            value
        })
        .collect()
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |value, key| {
        value
            .get(*key)
            .unwrap_or_else(|| panic!("no {key} in {path:?}"))
    })
}

/// The port of `host:port` or `scheme://host:port`.
fn port(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address}"))
}

fn core_defaults() -> (u16, u16) {
    let config = core_svc::config::Config::new("unused");
    (config.grpc_addr.port(), config.metrics_addr.port())
}

/// The lines of a Dockerfile starting with `instruction`, without it.
fn instructions<'a>(dockerfile: &'a str, instruction: &str) -> Vec<&'a str> {
    dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix(instruction)?.strip_prefix(' '))
        .collect()
}

fn check_dockerfile(path: &str, binary: &str, ports: &[u16]) {
    let dockerfile = read(path);
    for copy in instructions(&dockerfile, "COPY") {
        if copy.starts_with("--from=") {
            continue;
        }
        let words: Vec<&str> = copy.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            assert!(root().join(source).exists(), "{path}: COPY {source} exists");
        }
    }
    for member in ["src", "proto", "migrations", "core-svc", "edge", "pg-local"] {
        assert!(
            dockerfile.contains(&format!("COPY {member} ")),
            "{path} copies {member}"
        );
    }
    assert!(dockerfile.contains(&format!(
        "cargo build --release --locked -p {binary} --bin {binary}"
    )));
    assert!(dockerfile.contains(&format!(
        "/src/target/release/{binary} /usr/local/bin/{binary}"
    )));
    assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{binary}\"]")));
    let user = instructions(&dockerfile, "USER");
    assert!(
        matches!(user.as_slice(), [user] if *user != "0" && *user != "root"),
        "{path}: non-root"
    );
    let exposed: Vec<u16> = instructions(&dockerfile, "EXPOSE")
        .iter()
        .flat_map(|line| line.split_whitespace().map(|port| port.parse().unwrap()))
        .collect();
    assert_eq!(exposed, ports, "{path}: exposed ports");
}

#[test]
fn dockerfiles_build_and_run_the_binaries_on_their_default_ports() {
    let (grpc, metrics) = core_defaults();
    check_dockerfile("deploy/core.Dockerfile", "core-svc", &[grpc, metrics]);
    let edge = edge::config::Config::try_parse_from(["edge"]).unwrap();
    check_dockerfile(
        "deploy/edge.Dockerfile",
        "edge",
        &[edge.http_addrs[0].port()],
    );
}

#[test]
fn compose_runs_two_cores_two_edges_and_a_websocket_balancer() {
    let [compose] = documents("deploy/compose.yaml")
        .try_into()
        .expect("one document");
    let services = at(&compose, &["services"]);
    let (grpc, _) = core_defaults();
    for core in ["core-1", "core-2"] {
        let service = at(services, &[core]);
        assert!(
            root()
                .join(text(service, &["build", "dockerfile"]))
                .exists()
        );
        assert_eq!(
            port(text(service, &["environment", "CHAT_GRPC_ADDR"])),
            grpc
        );
        assert!(text(service, &["environment", "DATABASE_URL"]).contains("@postgres:5432/"));
    }
    let nginx = read("deploy/nginx.conf");
    for (edge, core) in [("edge-1", "core-1"), ("edge-2", "core-2")] {
        let service = at(services, &[edge]);
        assert!(
            root()
                .join(text(service, &["build", "dockerfile"]))
                .exists()
        );
        assert_eq!(
            text(service, &["environment", "CHAT_CORE_URL"]),
            format!("http://{core}:{grpc}")
        );
        let token = text(service, &["environment", "CHAT_EDGE_TOKEN"]);
        assert!(
            token.starts_with("${CHAT_EDGE_TOKEN:?"),
            "{edge} links with a token"
        );
        let http = port(text(service, &["environment", "CHAT_HTTP_ADDRS"]));
        assert!(
            nginx.contains(&format!("server {edge}:{http}")),
            "nginx balances {edge}"
        );
    }
    assert!(nginx.contains("proxy_set_header Upgrade $http_upgrade;"));
    assert!(nginx.contains("proxy_http_version 1.1;"));
    // The edges' Origin check needs the Host with its port, as the browser sent it.
    assert!(nginx.contains("proxy_set_header Host $http_host;"));
    let published = at(services, &["lb", "ports"])[0].as_str().unwrap();
    let published = published.split(':').next().unwrap();
    for edge in ["edge-1", "edge-2"] {
        let origins = text(
            at(services, &[edge]),
            &["environment", "CHAT_ALLOWED_ORIGINS"],
        );
        for page in ["127.0.0.1", "localhost"] {
            assert!(
                origins.contains(&format!("http://{page}:{published}")),
                "{edge} allows pages of the balancer at {page}:{published}: {origins}"
            );
        }
    }
    let mounts = at(services, &["lb", "volumes"]).as_sequence().unwrap();
    let config = mounts[0].as_str().unwrap().split(':').next().unwrap();
    assert!(
        root().join("deploy").join(config).exists(),
        "nginx.conf is mounted"
    );
}

/// The container's port number for a probe's or service's named port.
fn named_port(container: &Value, name: &str) -> u16 {
    at(container, &["ports"])
        .as_sequence()
        .unwrap()
        .iter()
        .find(|port| text(port, &["name"]) == name)
        .and_then(|port| port["containerPort"].as_u64())
        .map(|port| u16::try_from(port).unwrap())
        .unwrap_or_else(|| panic!("no port named {name}"))
}

fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    at(container, &["env"])
        .as_sequence()
        .unwrap()
        .iter()
        .find(|var| text(var, &["name"]) == name)
        .unwrap_or_else(|| panic!("no {name} in env"))
}

fn check_deployment(path: &str, probe_env: &str, image: &str) -> Vec<Value> {
    let docs = documents(path);
    let deployment = docs.iter().find(|doc| doc["kind"] == "Deployment").unwrap();
    let service = docs.iter().find(|doc| doc["kind"] == "Service").unwrap();
    let template = at(deployment, &["spec", "template"]);
    let labels = at(template, &["metadata", "labels"]);
    assert_eq!(at(deployment, &["spec", "selector", "matchLabels"]), labels);
    assert_eq!(at(service, &["spec", "selector"]), labels);
    let container = &at(template, &["spec", "containers"])[0];
    assert!(text(container, &["image"]).starts_with(image));
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(text(container, &[probe, "httpGet", "path"]), path);
        let named = text(container, &[probe, "httpGet", "port"]);
        let listen = text(env(container, probe_env), &["value"]);
        assert_eq!(
            named_port(container, named),
            port(listen),
            "{path}: {probe} port"
        );
    }
    for port in at(service, &["spec", "ports"]).as_sequence().unwrap() {
        named_port(container, text(port, &["targetPort"]));
    }
    assert_eq!(
        at(template, &["spec", "securityContext", "runAsNonRoot"]),
        &Value::Bool(true)
    );
    docs
}

#[test]
fn kubernetes_probes_ports_and_secrets_agree() {
    let (grpc, metrics) = core_defaults();
    let core = check_deployment("deploy/k8s/core.yaml", "CHAT_METRICS_ADDR", "chat-core");
    let container = &at(&core[0], &["spec", "template", "spec", "containers"])[0];
    assert_eq!(named_port(container, "grpc"), grpc);
    assert_eq!(named_port(container, "metrics"), metrics);
    let [secret] = documents("deploy/k8s/secret.example.yaml")
        .try_into()
        .expect("one document");
    for key in ["DATABASE_URL", "CHAT_JWT_SECRET"] {
        let reference = at(env(container, key), &["valueFrom", "secretKeyRef"]);
        assert_eq!(
            text(reference, &["name"]),
            text(&secret, &["metadata", "name"])
        );
        assert_eq!(text(reference, &["key"]), key);
        assert!(
            secret["stringData"].get(key).is_some(),
            "the secret has {key}"
        );
    }

    let edge = check_deployment("deploy/k8s/edge.yaml", "CHAT_HTTP_ADDRS", "chat-edge");
    let container = &at(&edge[0], &["spec", "template", "spec", "containers"])[0];
    let core_service = text(&core[1], &["metadata", "name"]);
    assert_eq!(
        text(env(container, "CHAT_CORE_URL"), &["value"]),
        format!("http://{core_service}:{grpc}")
    );
    let reference = at(
        env(container, "CHAT_EDGE_TOKEN"),
        &["valueFrom", "secretKeyRef"],
    );
    assert_eq!(
        text(reference, &["name"]),
        text(&secret, &["metadata", "name"])
    );
    assert_eq!(text(reference, &["key"]), "CHAT_EDGE_TOKEN");
    assert!(secret["stringData"].get("CHAT_EDGE_TOKEN").is_some());
}
