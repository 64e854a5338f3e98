//! `docker-compose.yml` cannot be run here (no Docker engine), so its shape is checked: it
//! parses, it has three `flashbench serve` replicas sharing Redis and every replica's command
//! is a valid flashbench command line; no store is published on the host, every published
//! port binds 127.0.0.1, the admin token has no default; PostgreSQL has a replica of its own;
//! Prometheus scrapes services that exist, with the token compose gives it; Grafana's
//! provisioning files exist. `.ci/run` also validates the file against the Compose schema.

use clap::Parser;
use flashbench::cli::{Cli, Command, ServeArgs};
use serde_yaml::{Mapping, Value};
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compose_text() -> String {
    std::fs::read_to_string(repo().join("docker-compose.yml")).expect("read docker-compose.yml")
}

/// The parsed file, with `<<: *anchor` merges applied (YAML merge keys are not part of
/// YAML 1.2, so the parser leaves them as a `<<` key).
fn compose() -> Value {
    let mut doc: Value = serde_yaml::from_str(&compose_text()).expect("docker-compose.yml parses");
    doc.apply_merge().expect("merge keys resolve");
    doc
}

fn services(doc: &Value) -> &Mapping {
    doc["services"].as_mapping().expect("services")
}

fn name(k: &Value) -> &str {
    k.as_str().expect("service names are strings")
}

/// A `flashbench serve` service's command line, parsed by the real CLI.
fn serve_args(service: &str, svc: &Value) -> ServeArgs {
    let args: Vec<String> = svc["command"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{service}: command is a list"))
        .iter()
        .map(|a| a.as_str().expect("string arg").replace("${STRATEGY:-lua}", "lua"))
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("flashbench".to_string()).chain(args))
        .unwrap_or_else(|e| panic!("{service}: not a valid command line: {e}"));
    let Command::Serve(serve) = cli.command else { panic!("{service} runs `serve`") };
    serve
}

/// Published ports of a service, in short syntax (`[HOST_IP:]HOST:CONTAINER`) or long.
fn published(svc: &Value) -> Vec<(Option<String>, String, String)> {
    let Some(ports) = svc.get("ports").and_then(Value::as_sequence) else { return Vec::new() };
    ports
        .iter()
        .map(|p| match p {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                match parts.as_slice() {
                    [container] => (None, String::new(), container.to_string()),
                    [host, container] => (None, host.to_string(), container.to_string()),
                    [ip, host, container] => (Some(ip.to_string()), host.to_string(), container.to_string()),
                    _ => panic!("unexpected port {s}"),
                }
            }
            Value::Number(n) => (None, String::new(), n.to_string()),
            Value::Mapping(m) => {
                let field = |k: &str| {
                    m.get(k).map(|v| v.as_str().map_or_else(|| v.as_u64().unwrap().to_string(), str::to_string))
                };
                (field("host_ip"), field("published").unwrap_or_default(), field("target").unwrap_or_default())
            }
            other => panic!("unexpected port {other:?}"),
        })
        .collect()
}

/// The `SOURCE:TARGET[:MODE]` bind mounts of a service.
fn binds(svc: &Value) -> Vec<(String, String)> {
    svc.get("volumes")
        .and_then(Value::as_sequence)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| {
                    let mut parts = s.split(':');
                    Some((parts.next()?.to_string(), parts.next()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_file_describes_three_replicas_sharing_redis() {
    let doc = compose();
    let services = services(&doc);
    assert!(services.contains_key("redis"));
    let mut instances = Vec::new();
    for (k, svc) in services.iter().filter(|(k, _)| name(k).starts_with("serve-")) {
        let serve = serve_args(name(k), svc);
        if serve.backend.name() != "redis" {
            continue;
        }
        assert_eq!(serve.redis_prefix, "shop", "{}: replicas share one store", name(k));
        assert_eq!(svc["environment"]["FLASHBENCH_REDIS_URL"], "redis://redis:6379", "{}: the compose Redis", name(k));
        assert!(svc.get("profiles").is_none(), "{}: the Redis replicas run by default", name(k));
        instances.push(serve.instance);
    }
    instances.sort_unstable();
    assert_eq!(instances, vec![0, 1, 2], "three Redis replicas; instance numbers keep order ids apart");
}

#[test]
fn postgres_has_a_replica_of_its_own_behind_a_profile() {
    let doc = compose();
    let services = services(&doc);
    let Some(pg) = services.get("postgres") else { return };
    let profiles = |svc: &Value| -> Vec<String> {
        svc.get("profiles")
            .and_then(Value::as_sequence)
            .map(|p| p.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let users: Vec<(&str, &Value)> = services
        .iter()
        .filter(|(k, svc)| name(k).starts_with("serve-") && serve_args(name(k), svc).backend.name() == "postgres")
        .map(|(k, v)| (name(k), v))
        .collect();
    assert!(!users.is_empty(), "PostgreSQL runs for nothing: no replica uses --backend postgres");
    for (user, svc) in users {
        let url = svc["environment"]["FLASHBENCH_DATABASE_URL"].as_str().unwrap_or_default();
        assert!(url.contains("@postgres:5432/"), "{user} uses the compose PostgreSQL: {url}");
        assert!(svc["depends_on"].get("postgres").is_some(), "{user} waits for PostgreSQL");
        for p in profiles(svc) {
            assert!(profiles(pg).contains(&p), "PostgreSQL starts whenever {user} does (profile {p})");
        }
    }
}

#[test]
fn stores_are_not_published_and_ports_bind_localhost() {
    let doc = compose();
    for (k, svc) in services(&doc) {
        for (ip, host, container) in published(svc) {
            for store in ["6379", "5432"] {
                assert!(
                    host != store && !(host.is_empty() && container == store),
                    "{} publishes {store}: it clashes with a local store and exposes it unauthenticated",
                    name(k)
                );
            }
            assert!(!host.is_empty(), "{}: port {container} gets a random host port on every interface", name(k));
            assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{}: {host} must bind 127.0.0.1 only", name(k));
        }
    }
    assert!(services(&doc).contains_key("prometheus") && services(&doc).contains_key("grafana"));
}

#[test]
fn the_admin_token_has_no_default() {
    let text = compose_text();
    assert!(!text.contains("change-me"), "no default admin token");
    let doc = compose();
    let mut seen = 0;
    for (k, svc) in services(&doc) {
        if let Some(token) = svc.get("environment").and_then(|e| e.get("FLASHBENCH_ADMIN_TOKEN")) {
            let token = token.as_str().unwrap_or_default();
            assert!(
                token.starts_with("${FLASHBENCH_ADMIN_TOKEN:?"),
                "{}: the token is required, not defaulted: {token}",
                name(k)
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "every replica gets the token");
}

/// The secret compose makes for a service, as (source, path in the container).
fn secrets(svc: &Value) -> Vec<(String, String)> {
    svc.get("secrets")
        .and_then(Value::as_sequence)
        .map(|s| {
            s.iter()
                .map(|s| match s {
                    Value::String(source) => (source.clone(), format!("/run/secrets/{source}")),
                    Value::Mapping(m) => {
                        let source = m.get("source").and_then(Value::as_str).expect("secret source").to_string();
                        let target = m.get("target").and_then(Value::as_str).unwrap_or(&source).to_string();
                        let target = if target.starts_with('/') { target } else { format!("/run/secrets/{target}") };
                        (source, target)
                    }
                    other => panic!("unexpected secret {other:?}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_services_that_exist_with_the_admin_token() {
    let doc = compose();
    let services = services(&doc);
    let prometheus = services.get("prometheus").expect("a prometheus service");
    // Its config is the repository's file.
    let mounts = binds(prometheus);
    let (source, _) = mounts
        .iter()
        .find(|(_, target)| target == "/etc/prometheus/prometheus.yml")
        .expect("prometheus.yml is mounted");
    let config_path = repo().join(source);
    let config: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&config_path).expect("read prometheus.yml")).expect("parses");
    let command: Vec<&str> =
        prometheus["command"].as_sequence().expect("command").iter().filter_map(Value::as_str).collect();
    assert!(command.contains(&"--web.enable-remote-write-receiver"), "remote write is received: {command:?}");
    assert!(command.contains(&"--config.file=/etc/prometheus/prometheus.yml"), "{command:?}");

    let jobs = config["scrape_configs"].as_sequence().expect("scrape_configs");
    let mut scraped = Vec::new();
    for job in jobs {
        let job_name = job["job_name"].as_str().expect("job_name");
        for target in job["static_configs"].as_sequence().expect("static_configs").iter().flat_map(|s| {
            s["targets"].as_sequence().expect("targets").iter().map(|t| t.as_str().expect("target").to_string())
        }) {
            let (host, port) = target.rsplit_once(':').expect("host:port");
            if host == "host.docker.internal" {
                assert_eq!(job_name, "flashbench-run");
                assert_eq!(port, "9464");
                assert_eq!(job["scrape_interval"], "1s", "a run is scraped every second");
                let hosts: Vec<&str> = prometheus["extra_hosts"]
                    .as_sequence()
                    .expect("extra_hosts")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert!(hosts.contains(&"host.docker.internal:host-gateway"), "{hosts:?}");
                continue;
            }
            let svc =
                services.get(host).unwrap_or_else(|| panic!("prometheus.yml scrapes {host}, not a compose service"));
            let serve = serve_args(host, svc);
            assert_eq!(serve.listen.port().to_string(), port, "{host} listens where it is scraped");
            assert_eq!(job["metrics_path"].as_str().unwrap_or("/metrics"), "/metrics");
            // The token: a file Prometheus can read, which compose makes from the token.
            let file = job["authorization"]["credentials_file"].as_str().expect("credentials_file");
            assert_eq!(job["authorization"]["type"].as_str().unwrap_or("Bearer"), "Bearer");
            let (secret, _) = secrets(prometheus)
                .into_iter()
                .find(|(_, target)| target == file)
                .unwrap_or_else(|| panic!("nothing puts the token at {file} in the prometheus container"));
            assert_eq!(doc["secrets"][secret.as_str()]["environment"], "FLASHBENCH_ADMIN_TOKEN");
            scraped.push(host.to_string());
        }
    }
    scraped.sort();
    assert_eq!(scraped, ["serve-1", "serve-2", "serve-3"]);
}

#[test]
fn grafana_provisioning_mounted_exists() {
    let doc = compose();
    let grafana = &services(&doc)["grafana"];
    let mounts = binds(grafana);
    assert!(!mounts.is_empty());
    for (source, target) in &mounts {
        assert!(source.starts_with("./"), "{source}: a path in the repository");
        assert!(repo().join(source).exists(), "{source} (mounted at {target}) is missing from the repository");
    }
    let target_of = |source: &str| mounts.iter().find(|(s, _)| s == source).map(|(_, t)| t.as_str());
    assert_eq!(target_of("./deploy/grafana/provisioning"), Some("/etc/grafana/provisioning"));
    // The provider loads the folder the dashboard is mounted in.
    let provider: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/provisioning/dashboards/flashbench.yaml")).expect("read"),
    )
    .expect("parses");
    let folder = provider["providers"][0]["options"]["path"].as_str().expect("provider path");
    let dashboard = target_of("./deploy/grafana/flashbench.json").expect("the dashboard is mounted");
    assert_eq!(Path::new(dashboard).parent(), Some(Path::new(folder)));
    // The datasource is the compose Prometheus, by the uid the dashboard uses.
    let datasources: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/provisioning/datasources/prometheus.yaml")).expect("read"),
    )
    .expect("parses");
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["uid"], "prometheus");
    assert_eq!(ds["url"], "http://prometheus:9090");
    let env = &grafana["environment"];
    assert_eq!(env["GF_AUTH_ANONYMOUS_ENABLED"], "true", "a wall screen needs no login");
    assert_eq!(env["GF_AUTH_ANONYMOUS_ORG_ROLE"], "Viewer", "anonymous viewers only view");
}

/// `promtool check config` on deploy/prometheus/prometheus.yml (the Debian `prometheus`
/// package `.ci/run` installs has it), with the token file where the config wants it moved
/// into a temporary folder: promtool checks that it exists.
#[test]
fn prometheus_config_passes_promtool() {
    let Ok(found) = std::process::Command::new("promtool").arg("--version").output() else {
        assert!(
            std::env::var("FLASHBENCH_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "promtool is required in CI (the Debian package `prometheus`)"
        );
        eprintln!("\n!!! SKIPPED: promtool is not installed (Debian package `prometheus`) !!!\n");
        return;
    };
    assert!(found.status.success());
    let config = std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml")).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "token").expect("write");
    let moved = config.replace("/etc/prometheus/admin-token", &token.to_string_lossy());
    assert_ne!(moved, config, "the config reads the token from /etc/prometheus/admin-token");
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, moved).expect("write");
    let out = std::process::Command::new("promtool").args(["check", "config"]).arg(&file).output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
